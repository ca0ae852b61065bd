using Capnp.Native.Serialization;
using RpcSchema = Rpc; // generated from rpc.capnp (namespace from the file name)

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Code generated from capnp's own rpc.capnp / persistent.capnp (compiled by the test project's build).</summary>
public class StandardSchemaTests
{
    [Fact]
    public async Task RpcMessageBuiltWithGeneratedCodeDecodesWithCapnp()
    {
        var mb = new MessageBuilder();
        var msg = mb.InitRoot<RpcSchema.Message.Builder>();
        var call = msg.InitCall();
        call.QuestionId = 5;
        call.InterfaceId = 0x1234;
        call.MethodId = 2;
        var target = call.InitTarget();
        var promised = target.InitPromisedAnswer();
        promised.QuestionId = 4;
        var ops = promised.InitTransform(1);
        var op = ops[0];
        op.GetPointerField = 3;
        call.InitParams().Content.SetText("payload");

        var res = await TestEnvironment.RunAsync("capnp", new[] { "decode", "--short", "/usr/include/capnp/rpc.capnp", "Message" }, mb.ToFramedArray());
        Assert.True(res.ExitCode == 0, res.Stderr);
        var text = res.StdoutText.Trim();
        Assert.StartsWith("(call = (questionId = 5, target = (promisedAnswer = (questionId = 4, transform = [(getPointerField = 3)])), interfaceId = 4660, methodId = 2", text);

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<RpcSchema.Message.Reader>();
        Assert.Equal(RpcSchema.Message.Which.Call, r.Which);
        Assert.Equal(RpcSchema.MessageTarget.Which.PromisedAnswer, r.Call.Target.Which);
        Assert.Equal(RpcSchema.PromisedAnswer.Op.Which.GetPointerField, r.Call.Target.PromisedAnswer.Transform[0].Which);
        // Defaults from rpc.capnp: sendResultsTo is `caller` when unset.
        Assert.Equal(RpcSchema.Call.SendResultsTo.Which.Caller, r.Call.SendResultsTo.Which);
        Assert.Equal("payload", r.Call.Params.Content.AsText());
    }
}
