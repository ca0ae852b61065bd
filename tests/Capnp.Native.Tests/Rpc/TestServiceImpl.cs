using Capnp.Native.Rpc;
using Capnp.Native.Serialization;
using Interop;

namespace Capnp.Native.Tests.Rpc;

/// <summary>
/// The C# TestService, following tests/interop/README.md exactly, so that the C++ client's
/// scenarios pass against it as they do against the C++ one.
/// </summary>
internal class TestServiceImpl : TestService.Server
{
    private readonly List<Callback.Client> held = [];
    private int cancelCount;
    private long streamedBytes;
    private int released;

    /// <summary>Set when the release hook ran (the last reference anywhere was dropped).</summary>
    public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int ReleaseCount => Volatile.Read(ref released);

    /// <summary>The call context the last Echo ran with (who called).</summary>
    public ServerCallContext? LastEchoContext { get; private set; }

    /// <summary>Whether the last Echo ran on a thread-pool thread.</summary>
    public bool LastEchoOnThreadPool { get; private set; }

    public override Task EchoAsync(TestService.EchoParams.Reader parameters, TestService.EchoResults.Builder results, CancellationToken cancellationToken)
    {
        LastEchoContext = ServerCallContext.Current;
        LastEchoOnThreadPool = Thread.CurrentThread.IsThreadPoolThread;
        results.Text = parameters.Text;
        return Task.CompletedTask;
    }

    public override Task AddAsync(TestService.AddParams.Reader parameters, TestService.AddResults.Builder results, CancellationToken cancellationToken)
    {
        results.Sum = unchecked(parameters.A + parameters.B);
        return Task.CompletedTask;
    }

    public override Task FailAsync(TestService.FailParams.Reader parameters, TestService.FailResults.Builder results, CancellationToken cancellationToken)
    {
        var message = parameters.Message;
        throw parameters.Kind switch
        {
            FailKind.Failed => RpcException.Create(RpcExceptionType.Failed, message),
            FailKind.Overloaded => RpcException.Create(RpcExceptionType.Overloaded, message),
            FailKind.Disconnected => RpcException.Create(RpcExceptionType.Disconnected, message),
            FailKind.Unimplemented => RpcException.Create(RpcExceptionType.Unimplemented, message),
            var other => RpcException.Create(RpcExceptionType.Failed, $"unknown FailKind {(ushort)other}: {message}"),
        };
    }

    public override Task EchoCapAsync(TestService.EchoCapParams.Reader parameters, TestService.EchoCapResults.Builder results, CancellationToken cancellationToken)
    {
        using var cap = parameters.GetCap();
        results.Cap = cap;
        return Task.CompletedTask;
    }

    public override async Task CallBackAsync(TestService.CallBackParams.Reader parameters, TestService.CallBackResults.Builder results, CancellationToken cancellationToken)
    {
        using var callback = parameters.GetCb() ?? throw new RpcFailedException("callBack: null callback");
        var reply = await callback.CallAsync(parameters.Value, cancellationToken);
        results.Reply = reply.Reply;
    }

    public override Task GetCounterAsync(TestService.GetCounterParams.Reader parameters, TestService.GetCounterResults.Builder results, CancellationToken cancellationToken)
    {
        using var counter = Counter.Client.Create(new CounterImpl());
        results.Counter = counter;
        return Task.CompletedTask;
    }

    public override Task EchoCapsAsync(TestService.EchoCapsParams.Reader parameters, TestService.EchoCapsResults.Builder results, CancellationToken cancellationToken)
    {
        if (!parameters.HasCaps)
        {
            return Task.CompletedTask;
        }

        // Copying the list carries each capability over to the results' cap table.
        results.SetCaps(parameters.Caps);
        return Task.CompletedTask;
    }

    public override async Task WaitForeverAsync(TestService.WaitForeverParams.Reader parameters, TestService.WaitForeverResults.Builder results, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            Interlocked.Increment(ref cancelCount);
        }
    }

    public override Task GetCancelCountAsync(TestService.GetCancelCountParams.Reader parameters, TestService.GetCancelCountResults.Builder results, CancellationToken cancellationToken)
    {
        results.Count = (uint)Volatile.Read(ref cancelCount);
        return Task.CompletedTask;
    }

    public override Task StreamAsync(TestService.StreamParams.Reader parameters, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref streamedBytes, parameters.Chunk.Length);
        return Task.CompletedTask;
    }

    public override Task GetStreamedBytesAsync(TestService.GetStreamedBytesParams.Reader parameters, TestService.GetStreamedBytesResults.Builder results, CancellationToken cancellationToken)
    {
        results.Bytes = (ulong)Interlocked.Read(ref streamedBytes);
        return Task.CompletedTask;
    }

    public override Task HoldAsync(TestService.HoldParams.Reader parameters, TestService.HoldResults.Builder results, CancellationToken cancellationToken)
    {
        if (parameters.GetCap() is { } cap)
        {
            lock (held)
            {
                held.Add(cap);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The capabilities <c>hold</c> keeps (still owned by the service).</summary>
    public Callback.Client[] Held()
    {
        lock (held)
        {
            return [.. held];
        }
    }

    public override Task DropAllAsync(TestService.DropAllParams.Reader parameters, TestService.DropAllResults.Builder results, CancellationToken cancellationToken)
    {
        lock (held)
        {
            foreach (var cap in held)
            {
                cap.Dispose();
            }

            held.Clear();
        }

        return Task.CompletedTask;
    }

    protected override ValueTask OnReleasedAsync()
    {
        Interlocked.Increment(ref released);
        DropAllAsync(default, default, default);
        Released.TrySetResult();
        return ValueTask.CompletedTask;
    }

    private sealed class CounterImpl : Counter.Server
    {
        private uint value;

        public override Task IncrementAsync(Counter.IncrementParams.Reader parameters, Counter.IncrementResults.Builder results, CancellationToken cancellationToken)
        {
            results.Value = Interlocked.Increment(ref value);
            return Task.CompletedTask;
        }
    }
}

/// <summary>A callback answering <c>prefix + value</c>, counting its calls and its release.</summary>
internal sealed class PrefixCallback(string prefix) : Callback.Server
{
    private int calls;

    public int Calls => Volatile.Read(ref calls);

    public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Task CallAsync(Callback.CallParams.Reader parameters, Callback.CallResults.Builder results, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref calls);
        results.Reply = prefix + parameters.Value;
        return Task.CompletedTask;
    }

    protected override ValueTask OnReleasedAsync()
    {
        Released.TrySetResult();
        return ValueTask.CompletedTask;
    }
}
