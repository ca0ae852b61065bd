namespace Capnp.Native.Serialization.Tests;

/// <summary>Upgrades of builder objects written with smaller sizes (older schemas) leave no stale words behind.</summary>
public class BuilderUpgradeTests
{
    // One word per segment: every object lands in a new segment, behind a far pointer and its landing pad.
    private static MessageBuilder FarEverything() => new(new BuilderOptions { FirstSegmentWords = 1, Strategy = AllocationStrategy.FixedSize });

    // Segment 1 held the old object and its landing pad.
    private static bool OldSegmentIsZero(MessageBuilder mb) => mb.GetSegments()[1].Span.IndexOfAnyExcept((byte)0) < 0;

    [Fact]
    public void UpgradedStructBehindAFarPointerLeavesNoLandingPad()
    {
        using var mb = FarEverything();
        mb.InitRoot(1, 0).WriteInt64(0, 5);
        Assert.Equal(2, mb.SegmentCount); // pad + struct in segment 1
        var upgraded = mb.Root.GetStruct(2, 1);
        upgraded.WriteInt64(1, 6);
        Assert.Equal(5, upgraded.ReadInt64(0));
        Assert.True(OldSegmentIsZero(mb));
        var r = mb.AsReader().Root;
        Assert.Equal(5, r.ReadInt64(0));
        Assert.Equal(6, r.ReadInt64(1));
    }

    [Fact]
    public void UpgradedStructListBehindAFarPointerLeavesNoOldWords()
    {
        using var mb = FarEverything();
        var old = mb.Root.InitStructList(2, 1, 0);
        old.GetStruct(0).WriteInt32(0, 10);
        old.GetStruct(1).WriteInt32(0, 11);
        var list = mb.Root.GetStructList(1, 1);
        Assert.Equal(1, list.GetStruct(0).PointerCount);
        list.GetStruct(1).WriteText(0, "new");
        var r = mb.AsReader().RootPointer.AsList();
        Assert.Equal(10, r.GetStruct(0).ReadInt32(0));
        Assert.Equal(11, r.GetStruct(1).ReadInt32(0));
        Assert.Equal("new", r.GetStruct(1).ReadText(0));
        // Pad, tag and elements of the old list were zeroed.
        Assert.True(OldSegmentIsZero(mb));
    }
}
