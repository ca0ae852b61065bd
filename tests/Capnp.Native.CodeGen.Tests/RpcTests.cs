using Capnp.Native;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Generated client proxies and server skeletons over in-memory call targets.</summary>
public class RpcTests
{
    /// <summary>A fake call target that records the call and answers with a canned message.</summary>
    private sealed class RecordingTarget : ICallTarget
    {
        public ulong InterfaceId; public ushort MethodId; public MessageReader? Params;
        public Func<MessageBuilder> Answer = () => new MessageBuilder();
        public Task<MessageReader> CallAsync(ulong interfaceId, ushort methodId, MessageBuilder parameters, CancellationToken cancellationToken)
        {
            InterfaceId = interfaceId; MethodId = methodId;
            Params = MessageReader.FromFramed(parameters.ToFramedArray());
            return Task.FromResult(MessageReader.FromFramed(Answer().ToFramedArray()));
        }
        public void Dispose() { }
    }

    private sealed class AdderImpl(long start) : Calculator.Adder.Server
    {
        public override Task AddToAsync(Calculator.Adder.AddToParams.Reader parameters, Calculator.Adder.AddToResults.Builder results, CancellationToken cancellationToken)
        {
            results.Result = start + parameters.Value;
            return Task.CompletedTask;
        }
    }

    private class CalculatorImpl : Calculator.Server
    {
        public CancellationToken SeenToken;
        public override Task AddAsync(Calculator.AddParams.Reader parameters, Calculator.AddResults.Builder results, CancellationToken cancellationToken)
        {
            SeenToken = cancellationToken;
            results.Sum = parameters.A + parameters.B;
            return Task.CompletedTask;
        }
        public override Task DescribeAsync(Calculator.DescribeParams.Reader parameters, Calculator.DescribeResults.Builder results, CancellationToken cancellationToken)
        {
            results.Text = $"{parameters.Tag}:{parameters.Shape.Name}:{parameters.Shape.Which}";
            return Task.CompletedTask;
        }
        public override Task GetAdderAsync(Calculator.GetAdderParams.Reader parameters, Calculator.GetAdderResults.Builder results, CancellationToken cancellationToken)
        {
            results.Adder = new Calculator.Adder.Client(new AdderImpl(parameters.Base));
            return Task.CompletedTask;
        }
        public int Dispatched;
        // "dispatch" collides with CapabilityServer.DispatchAsync: it gets a trailing '_'.
        public override Task Dispatch_Async(Calculator.DispatchParams.Reader p, Calculator.DispatchResults.Builder r, CancellationToken ct) { Dispatched += 1; return Task.CompletedTask; }
        public override Task DispatchAsyncAsync(Calculator.DispatchAsyncParams.Reader p, Calculator.DispatchAsyncResults.Builder r, CancellationToken ct) { Dispatched += 10; return Task.CompletedTask; }
        public override Task GetHolderAsync(Calculator.GetHolderParams.Reader parameters, Calculator.GetHolderResults.Builder results, CancellationToken cancellationToken)
        {
            var holder = results.InitHolder();
            holder.Calculator = new Calculator.Client(new CalculatorImpl());
            return Task.CompletedTask;
        }
        public override Task EchoAsync(Calculator.EchoParams.Reader parameters, Calculator.EchoResults.Builder results, CancellationToken cancellationToken)
        {
            results.String = parameters.String;
            results.Class = parameters.Class;
            return Task.CompletedTask;
        }
    }

    private sealed class ScientificImpl : ScientificCalculator.Server
    {
        private readonly CalculatorImpl _basic = new();
        public override Task SqrtAsync(ScientificCalculator.SqrtParams.Reader parameters, ScientificCalculator.SqrtResults.Builder results, CancellationToken cancellationToken)
        { results.Y = Math.Sqrt(parameters.X); return Task.CompletedTask; }
        public override Task AddAsync(Calculator.AddParams.Reader p, Calculator.AddResults.Builder r, CancellationToken ct) => _basic.AddAsync(p, r, ct);
        public override Task DescribeAsync(Calculator.DescribeParams.Reader p, Calculator.DescribeResults.Builder r, CancellationToken ct) => _basic.DescribeAsync(p, r, ct);
        public override Task GetAdderAsync(Calculator.GetAdderParams.Reader p, Calculator.GetAdderResults.Builder r, CancellationToken ct) => _basic.GetAdderAsync(p, r, ct);
        public override Task EchoAsync(Calculator.EchoParams.Reader p, Calculator.EchoResults.Builder r, CancellationToken ct) => _basic.EchoAsync(p, r, ct);
        public override Task GetHolderAsync(Calculator.GetHolderParams.Reader p, Calculator.GetHolderResults.Builder r, CancellationToken ct) => _basic.GetHolderAsync(p, r, ct);
        public override Task Dispatch_Async(Calculator.DispatchParams.Reader p, Calculator.DispatchResults.Builder r, CancellationToken ct) => _basic.Dispatch_Async(p, r, ct);
        public override Task DispatchAsyncAsync(Calculator.DispatchAsyncParams.Reader p, Calculator.DispatchAsyncResults.Builder r, CancellationToken ct) => _basic.DispatchAsyncAsync(p, r, ct);
    }

    [Fact]
    public async Task ClientProxySendsInterfaceAndMethodIdsAndParams()
    {
        var target = new RecordingTarget
        {
            Answer = () =>
            {
                var mb = new MessageBuilder();
                mb.InitRoot<Calculator.AddResults.Builder>().Sum = 1234;
                return mb;
            },
        };
        var client = new Calculator.Client(target);
        var results = await client.AddAsync(40, 2);
        Assert.Equal(Calculator.InterfaceId, target.InterfaceId);
        Assert.Equal(0, target.MethodId);
        var p = target.Params!.GetRoot<Calculator.AddParams.Reader>();
        Assert.Equal((40, 2), (p.A, p.B));
        Assert.Equal(1234, results.Sum);
    }

    [Fact]
    public async Task ClientOverLocalServerRoundTripsCalls()
    {
        var server = new CalculatorImpl();
        using var client = new Calculator.Client(server);
        using var cts = new CancellationTokenSource();
        Assert.Equal(5, (await client.AddAsync(2, 3, cts.Token)).Sum);
        Assert.Equal(cts.Token, server.SeenToken);

        var shapeMsg = new MessageBuilder();
        var shape = shapeMsg.InitRoot<Shape.Builder>();
        shape.Name = "sq";
        shape.Square = 2;
        var described = await client.DescribeAsync(shape.AsReader(), "tag");
        Assert.Equal("tag:sq:Square", described.Text);

        var built = await client.DescribeAsync(p => { p.Tag = "b"; p.InitShape().Circle = 1; });
        Assert.Equal("b::Circle", built.Text);

        var echo = await client.EchoAsync("keyword", 7);
        Assert.Equal(("keyword", 7), (echo.String, echo.Class));

        await client.Dispatch_Async();
        await client.DispatchAsyncAsync();
        Assert.Equal(11, server.Dispatched);
    }

    [Fact]
    public async Task ReturnedCapabilitiesAndPipelining()
    {
        using var client = new Calculator.Client(new CalculatorImpl());
        // Pipelined: call the adder before the getAdder answer has been awaited.
        using var promise = client.GetAdderAsync(100);
        using var pipelinedAdder = promise.GetAdder();
        var pipelined = await pipelinedAdder.AddToAsync(5);
        Assert.Equal(105, pipelined.Result);
        // Awaited: the capability comes out of the results' cap table.
        var results = await promise;
        Assert.True(results.HasAdder);
        using var adder = results.GetAdder();
        Assert.NotNull(adder);
        Assert.Equal(101, (await adder!.AddToAsync(1)).Result);
    }

    [Fact]
    public async Task PipeliningThroughAStructField()
    {
        using var client = new Calculator.Client(new CalculatorImpl());
        // holder.calculator is reached through the promised results before they arrive.
        using var holder = client.GetHolderAsync();
        using var calculator = holder.Holder.GetCalculator();
        var sum = await calculator.AddAsync(20, 22);
        Assert.Equal(42, sum.Sum);
        Assert.Equal(new ushort[] { 0, 1 }, Capnp.Native.Rpc.Generated.PromisedAnswer.Extend(new ushort[] { 0 }, 1));
    }

    [Fact]
    public async Task SubclassClientCallsInheritedMethodsAndConvertsToSuperclass()
    {
        using var sci = new ScientificCalculator.Client(new ScientificImpl());
        Assert.Equal(3.0, (await sci.SqrtAsync(9)).Y);
        Assert.Equal(7, (await sci.AddAsync(3, 4)).Sum);
        Calculator.Client basic = sci;
        Assert.Equal(9, (await basic.AddAsync(4, 5)).Sum);
    }

    [Fact]
    public async Task UnknownMethodIsUnimplemented()
    {
        ICallTarget server = new CalculatorImpl();
        var ex = await Assert.ThrowsAsync<RpcUnimplementedException>(
            () => server.CallAsync(Calculator.InterfaceId, 42, new MessageBuilder(), default));
        Assert.Contains("42", ex.Message);
    }

    [Fact]
    public async Task AServerOfAnInterfaceWithoutMethodsAnswersEveryCallUnimplemented()
    {
        // Its generated dispatcher has no switch at all (an empty one warned in users' builds).
        ICallTarget server = new MethodlessCap();
        var ex = await Assert.ThrowsAsync<RpcUnimplementedException>(
            () => server.CallAsync(Test.Cap.InterfaceId, 0, new MessageBuilder(), default));
        Assert.Contains(Test.Cap.InterfaceId.ToString("x", System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    private sealed class MethodlessCap : Test.Cap.Server;

    private sealed class PointStore : Store<Point.Reader>.Server
    {
        private readonly List<(int X, int Y)> _items = new();
        public override Task PutAsync(Store<Point.Reader>.PutParams.Reader parameters, Store<Point.Reader>.PutResults.Builder results, CancellationToken cancellationToken)
        {
            Point.Reader value = parameters.Value;
            _items.Add((value.X, value.Y));
            results.Count = (uint)_items.Count;
            return Task.CompletedTask;
        }
        public override Task GetAsync(Store<Point.Reader>.GetParams.Reader parameters, Store<Point.Reader>.GetResults.Builder results, CancellationToken cancellationToken)
        {
            var p = results.InitValue<Point.Builder>();
            (p.X, p.Y) = _items[^1];
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task GenericInterfaceBindsItsParameterToAStructReader()
    {
        using var store = new Store<Point.Reader>.Client(new PointStore());
        var put = await store.PutAsync(p => { var v = p.InitValue<Point.Builder>(); v.X = 3; v.Y = 4; });
        Assert.Equal(1u, put.Count);
        var pointMsg = new MessageBuilder();
        var point = pointMsg.InitRoot<Point.Builder>();
        point.X = 3; point.Y = 4;
        Assert.Equal(2u, (await store.PutAsync(point.AsReader())).Count); // flattened: T value
        var got = await store.GetAsync();
        Point.Reader value = got.Value;
        Assert.Equal((3, 4), (value.X, value.Y));
    }

    [Fact]
    public async Task CapabilityFieldsInStructsGoThroughTheCapTable()
    {
        var mb = new MessageBuilder();
        var b = mb.InitRoot<HasCapabilities.Builder>();
        b.Calculator = new Calculator.Client(new CalculatorImpl());
        b.PointStore = new Store<Point.Reader>.Client(new PointStore());
        Assert.Equal(2, mb.CapTable.Count);

        var r = mb.AsReader().GetRoot<HasCapabilities.Reader>();
        Assert.True(r.HasCalculator);
        Assert.Equal(12, (await r.GetCalculator()!.AddAsync(5, 7)).Sum);
        Assert.Equal(1u, (await r.GetPointStore()!.PutAsync(p => p.InitValue<Point.Builder>())).Count);

        // Without a cap table (e.g. a message read from bytes), capability fields read as null.
        var bare = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<HasCapabilities.Reader>();
        Assert.True(bare.HasCalculator);
        Assert.Null(bare.GetCalculator());
    }
}
