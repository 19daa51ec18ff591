// Package etf is the Erlang External Term Format codec of the sidecar.
//
// Decoding runs in two steps. Check walks the bytes first and refuses
// anything the sidecar has no use for or that could hurt it: a declared
// length larger than the bytes that follow (erlang_go would allocate it
// before noticing), nesting deeper than MaxDepth, compressed terms, atom
// cache references, pids, ports, references, funs, bit strings and big
// integers wider than 64 bits. Only then does Decode hand the bytes to
// github.com/okeuday/erlang_go/v2, with a recover around it, so no input can
// panic the process.
//
// Encoding is hand-written: Append* functions write terms straight into a
// caller's buffer with no reflection and no allocation. They produce the
// same bytes as erlang_go's TermToBinary for every shape erlang_go can
// express (tests hold them to it); erlang_go cannot encode maps keyed by
// binaries, which stats replies need, so it is not used for replies at all.
//
// Atoms are written as SMALL_ATOM_UTF8_EXT (119), which OTP 25 and later
// both read; ATOM_EXT (100), SMALL_ATOM_EXT (115), ATOM_UTF8_EXT (118) and
// SMALL_ATOM_UTF8_EXT are all accepted on input.
package etf
