using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Generated readers compare by canonical form: layout does not matter, values do.</summary>
public class EqualityTests
{
    private static void Fill(AllTypes.Builder b, bool textFirst)
    {
        // The order of the writes decides where objects land in the message.
        if (textFirst) { b.TextField = "hello"; SetSecondX(b, 9); }
        else { SetSecondX(b, 9); b.TextField = "hello"; }
        b.Int64Field = -3;
        var s = b.InitStructField(); s.X = 1; s.Y = 2;
        var lists = b.InitListList(2);
        lists.Init(1, 0); // an empty list, not a null one (they differ canonically)
        var inner = lists.Init(0, 3);
        inner[2] = 7;
        b.DataField = new byte[] { 1, 2, 3 };
    }

    private static void SetSecondX(AllTypes.Builder b, int x)
    {
        var point = b.InitStructList(2)[1];
        point.X = x;
    }

    private static AllTypes.Reader Build(BuilderOptions options, bool textFirst, out int segments)
    {
        var mb = new MessageBuilder(options);
        Fill(mb.InitRoot<AllTypes.Builder>(), textFirst);
        segments = mb.SegmentCount;
        // Read from a copy so the builder can go.
        var framed = mb.ToFramedArray();
        mb.Dispose();
        return MessageReader.FromFramed(framed).GetRoot<AllTypes.Reader>();
    }

    [Fact]
    public void SameValueInDifferentLayoutsIsEqual()
    {
        var one = Build(new BuilderOptions(), textFirst: true, out int s1);
        var many = Build(new BuilderOptions { FirstSegmentWords = 2, Strategy = AllocationStrategy.FixedSize }, textFirst: false, out int s2);
        Assert.Equal(1, s1);
        Assert.True(s2 > 3, "the second message should use many segments (far pointers)");
        Assert.True(one.Equals(many));
        Assert.True(one == many);
        Assert.False(one != many);
        Assert.Equal(one.GetHashCode(), many.GetHashCode());
        Assert.True(one.Equals((object)many));
        Assert.Contains(many, new HashSet<AllTypes.Reader> { one });
    }

    [Fact]
    public async Task MessageEncodedByCapnpEqualsOursBuiltInManySegments()
    {
        var enc = await TestEnvironment.CapnpAsync(Encoding.UTF8.GetBytes(
            "(textField = \"hello\", structList = [(), (x = 9)], int64Field = -3, structField = (x = 1, y = 2), listList = [[0, 0, 7], []], dataField = 0x\"01 02 03\")"),
            "encode", "codegen_test.capnp", "AllTypes");
        Assert.True(enc.ExitCode == 0, enc.Stderr);
        var theirs = MessageReader.FromFramed(enc.Stdout).GetRoot<AllTypes.Reader>();
        var ours = Build(new BuilderOptions { FirstSegmentWords = 3, Strategy = AllocationStrategy.FixedSize }, textFirst: false, out _);
        Assert.Equal(theirs, ours);
        Assert.Equal(theirs.GetHashCode(), ours.GetHashCode());
    }

    [Fact]
    public void DifferentValuesAreNotEqual()
    {
        var a = Build(new BuilderOptions(), true, out _);
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        Fill(b, true);
        SetSecondX(b, 10);
        Assert.NotEqual(a, b.AsReader());
        Assert.True(a != b.AsReader());

        // Union members: same bits, different discriminant.
        using var m1 = new MessageBuilder();
        var s1 = m1.InitRoot<Shape.Builder>(); s1.Circle = 2;
        using var m2 = new MessageBuilder();
        var s2 = m2.InitRoot<Shape.Builder>(); s2.Square = 2;
        Assert.NotEqual(s1.AsReader(), s2.AsReader());
        s2.Circle = 2;
        Assert.Equal(s1.AsReader(), s2.AsReader());
    }

    [Fact]
    public void BiggerEncodingsWithZeroTailsAndNullStructsCompareByValue()
    {
        // Written by a "newer schema": more data words and pointers, all extra ones zero/null.
        using var big = new MessageBuilder();
        var raw = big.InitRoot(dataWords: 4, pointerCount: 3);
        raw.WriteInt32(0, 5); raw.WriteInt32(1, 6);
        using var small = new MessageBuilder();
        var p = small.InitRoot<Point.Builder>(); p.X = 5; p.Y = 6;
        var bigReader = Point.Reader.Create(big.Root.AsReader().AsStruct());
        Assert.Equal(p.AsReader(), bigReader);
        Assert.Equal(p.AsReader().GetHashCode(), bigReader.GetHashCode());

        // An extra non-zero word (an unknown field) is part of the value.
        raw.WriteInt32(4, 1);
        Assert.NotEqual(p.AsReader(), Point.Reader.Create(big.Root.AsReader().AsStruct()));

        // A null struct equals an all-default one.
        using var empty = new MessageBuilder();
        empty.InitRoot<Point.Builder>();
        Assert.Equal(default(Point.Reader), empty.GetRoot<Point.Builder>().AsReader());
    }
}
