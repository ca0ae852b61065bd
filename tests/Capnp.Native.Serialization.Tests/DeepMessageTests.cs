namespace Capnp.Native.Serialization.Tests;

/// <summary>
/// Deep copies, canonicalization and zeroing walk a message as deep as the reader's nesting limit allows, and the
/// user may raise that limit (builder views have none): they must not recurse on the thread's stack, where a
/// 100,000-deep message ends the process with a stack overflow (issue 12).
/// </summary>
public class DeepMessageTests
{
    private const int Depth = 100_000;
    private static readonly BuilderOptions OneSegment = new() { FirstSegmentWords = 2 * Depth + 16 };

    // Runs on a thread with a small, fixed stack, so the test does not depend on the runner's thread sizes.
    private static void OnSmallStack(Action action)
    {
        Exception? failure = null;
        var t = new Thread(() => { try { action(); } catch (Exception e) { failure = e; } }, maxStackSize: 256 * 1024);
        t.Start();
        t.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException("Failed on the small-stack thread: " + failure);
    }

    private static MessageBuilder BuildChain()
    {
        var mb = new MessageBuilder(OneSegment);
        // Already canonical: no zero data word, no trailing null pointer (the last node has no pointer section).
        var node = mb.InitRoot(1, 1);
        for (uint i = 1; i <= Depth; i++) { node.WriteUInt32(0, i); node = node.InitStruct(0, 1, (ushort)(i < Depth ? 1 : 0)); }
        node.WriteUInt32(0, Depth + 1);
        return mb;
    }

    private static uint Bottom(StructReader s)
    {
        for (int i = 0; i < Depth; i++) s = s.ReadStruct(0);
        return s.ReadUInt32(0);
    }

    [Fact]
    public void HundredThousandDeepMessageIsCopiedCanonicalizedAndClearedWithoutRecursion()
    {
        using var original = BuildChain();
        var framed = original.ToFramedArray();
        var options = new ReaderOptions { NestingLimit = Depth + 10 };

        OnSmallStack(() =>
        {
            using var copy = new MessageBuilder(OneSegment);
            copy.SetRoot(MessageReader.FromFramed(framed, options).Root);
            // Pre-order copy of a pre-order message: the very same words.
            Assert.Equal(original.GetSegments()[0].ToArray(), copy.GetSegments()[0].ToArray());
            Assert.Equal((uint)Depth + 1, Bottom(copy.AsReader(options).Root));

            var canonical = Canonicalizer.Canonicalize(MessageReader.FromFramed(framed, options).Root);
            Assert.Equal(original.GetSegments()[0].ToArray(), canonical);

            // Builder views have no nesting limit at all.
            using var fromBuilder = new MessageBuilder(OneSegment);
            fromBuilder.Root.SetStruct(original.Root.AsReader().AsStruct());
            Assert.Equal(original.GetSegments()[0].ToArray(), fromBuilder.GetSegments()[0].ToArray());

            // Overwriting the root zeroes the whole old chain (C++ semantics), as deep as it is.
            copy.Root.Clear();
            Assert.True(copy.GetSegments()[0].Span.IndexOfAnyExcept((byte)0) < 0);
        });
    }

    [Fact]
    public void DefaultNestingLimitStillRejectsTheDeepMessage()
    {
        using var original = BuildChain();
        var framed = original.ToFramedArray();
        using var copy = new MessageBuilder();
        Assert.Throws<CapnpLimitExceededException>(() => copy.SetRoot(MessageReader.FromFramed(framed).Root));
    }
}
