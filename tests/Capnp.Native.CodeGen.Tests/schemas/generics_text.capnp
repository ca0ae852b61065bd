# Generic structs bound to non-struct types (Text, lists, Data) and to parameters of their own scope:
# C# type arguments cannot express these bindings, so the text format and JSON take them from the brand.
@0xe039455f96e88fe9;
using CSharp = import "/csharp.capnp";
$CSharp.namespace("CodeGenTests.Generics");

struct Wrap(T) {
  value @0 :T;
  inner @1 :Wrap(T);
  label @2 :Text;
}

struct Item {
  n @0 :Int32;
}

struct UsesWrap {
  texts @0 :Wrap(Text);
  lists @1 :Wrap(List(Int32));
  nested @2 :Wrap(Wrap(Data));
  structs @3 :Wrap(Item);
}
