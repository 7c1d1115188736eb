// Package wire is the UDP protocol between clients and storage daemons.
//
// Every datagram, request or response, is one 64-byte header followed by the
// pool name, the object name, an authentication field and the payload. All
// integers are big-endian. These bytes are part of the wire format: a change
// bumps Version and is listed in the history below.
//
//	 0               1               2               3
//	 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//	+-------------------------------+---------------+---------------+
//	|        magic 0x5344 "SD"      |   version=1   |      op       |  0
//	+-------------------------------+---------------+---------------+
//	|            flags              |            status             |  4
//	+-------------------------------+-------------------------------+
//	|                      client id (64 bits)                      |  8
//	+---------------------------------------------------------------+
//	|                      request id (64 bits)                     | 16
//	+---------------------------------------------------------------+
//	|                      map epoch (64 bits)                      | 24
//	+---------------------------------------------------------------+
//	|                        offset (64 bits)                       | 32
//	+---------------------------------------------------------------+
//	|                         aux (64 bits)                         | 40
//	+---------------------------------------------------------------+
//	|                        length (32 bits)                       | 48
//	+---------------+---------------+-------------------------------+
//	|   pool len    |   reserved    |           name len            | 52
//	+---------------+---------------+-------------------------------+
//	|           auth len            |           reserved            | 56
//	+-------------------------------+-------------------------------+
//	|          crc32c of the whole datagram (this field as 0)       | 60
//	+---------------------------------------------------------------+
//	| pool (pool len bytes) | name (name len) | auth (auth len) | payload ...
//
// The payload runs to the end of the datagram. Reserved bytes are zero.
//
// Field use by operation (requests; responses carry op|OpResponse):
//
//	op        offset          length          name    payload          response
//	Ping      -               -               -       -                -
//	Read      object offset   bytes wanted    object  -                data (short at end of object); offset=object size, aux=version
//	Write     object offset   payload length  object  data             offset=object size, aux=version
//	Stat      -               -               object  -                offset=size, aux=version, payload=StatPayload
//	Delete    -               -               object  -                -
//	Truncate  new size        -               object  -                offset=size, aux=version
//	List      -               max entries     prefix  cursor (names    payload=ListEntry..., FlagMore when more
//	                                                  sort after it)
//
// The pair (client id, request id) names a request. A client picks a random
// client id per process and increases request ids; it retransmits a request
// with the same ids until it gets the answer, and the daemon answers a
// retransmission of a request it already applied with the saved answer rather
// than applying it again (see daemon/server).
//
// The crc32c (Castagnoli) covers the whole datagram with the crc field set to
// zero: datagrams whose IP fragments were reassembled wrongly, or that were
// damaged anywhere, are dropped and counted, never applied.
//
// The map epoch and the auth field are reserved for the master (epoch 0 and
// an empty auth field mean "standalone daemon, no authentication").
//
// Version history:
//
//	1 (2026-11-25)  first version.
package wire
