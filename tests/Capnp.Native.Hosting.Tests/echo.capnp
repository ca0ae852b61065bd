@0xb5c2f4a3d1e60a97;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Capnp.Native.Hosting.Tests.Schema");

# The seed tutorial's echo service.
interface Echo {
  ping @0 (msg :Text) -> (reply :Text);
}
