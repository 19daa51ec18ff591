// Package merge holds the merge operators erlang-rocksdb offers, for
// databases opened with its merge_operator option:
//
//   - Erlang: values are Erlang terms (term_to_binary); operands are
//     {int_add, N}, {list_append, L}, {list_substract, L}, {list_set, Pos, V},
//     {list_delete, Pos}, {list_delete, Start, End}, {list_insert, Pos, L},
//     {binary_append, B}, {binary_erase, Pos, Count},
//     {binary_insert, Pos, B} and {binary_replace, Pos, Count, B}.
//   - Counter: values and operands are signed decimal integers in ASCII.
//   - Bitset: the value is a bitmap of a fixed number of bits; an operand
//     "+N" sets bit N, "-N" clears it, "" clears them all.
//
// A merge that cannot be applied (a malformed operand, an operand of
// another type than the value) fails, and RocksDB reports the key as
// corrupt when it is read, as it does for the NIF's operators.
package merge
