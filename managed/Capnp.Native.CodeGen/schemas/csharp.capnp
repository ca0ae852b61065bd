# Annotations understood by capnpc-csharp (CapnpNative's C# code generator).
#
#   using CSharp = import "/csharp.capnp";
#   $CSharp.namespace("My.Company.Schemas");
#   struct Foo $CSharp.name("Bar") { baz @0 :Int32 $CSharp.name("Qux"); }
#
# The MSBuild targets put this file's folder on the import path.

@0xbe21fbb1350da761;

annotation namespace @0xf02e310ad701ff1f (file) :Text;
# The C# namespace of everything generated from the annotated file. Without it the namespace
# is derived from the file name (foo_bar.capnp -> FooBar).

annotation name @0xea35908b0d8be827 (file, struct, field, enum, enumerant, interface, method, param, group, union, const) :Text;
# The C# name of the annotated node, member, enumerant or method (used verbatim).
