// Package nodeset parses, folds and combines sets of host names written the
// way clush (ClusterShell) and pdsh write them: web[01-20,33],
// rack[1-2]-node[01-16], 10.0.[0-3].[1-254], root@db1:2222, with ","
// for union, "!" for difference, "&" for intersection and @group for a
// named set from an inventory.
//
// It is pure code with no I/O besides reading the inventory and host files
// it is pointed at, so the runner, the command line and the fuzzer share
// one definition of what an expression means.
//
// # Syntax
//
// An expression is a list of terms joined by operators, evaluated left to
// right with no precedence (as clush does): "a,b!c" is (a ∪ b) ∖ c.
//
//	web[01-03]          web01 web02 web03 (zero padding is kept)
//	n[1-3,7]            n1 n2 n3 n7
//	r[1-2]-n[1-2]       r1-n1 r1-n2 r2-n1 r2-n2
//	@web                the group web, looked up in the Resolver
//	a,b   a!b   a&b     union, difference, intersection
//
// A range's padding comes from its start: [08-10] is 08 09 10, [8-10] is
// 8 9 10. Names are otherwise opaque: user@host:port is a name like any
// other, split by the runner, not here.
package nodeset
