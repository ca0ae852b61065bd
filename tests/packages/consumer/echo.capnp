@0xad737710e2b7fcde;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("PackageConsumer.Schema");

# The seed tutorial's echo service.
interface Echo {
  ping @0 (msg :Text) -> (reply :Text);
}

# A capability without methods (a token or a marker): its generated code must compile without
# warnings too.
interface Token {}
