namespace Capnp.Native.Serialization.Tests;

/// <summary>
/// A builder's segments come from the shared pool: once it is disposed, views over them (readers, Data, segments)
/// must refuse to read rather than show whatever message reuses the arrays (issue 12).
/// </summary>
public class BuilderLifetimeTests
{
    private static MessageBuilder Build(long value, string text, byte[] data)
    {
        var mb = new MessageBuilder(new BuilderOptions { FirstSegmentWords = 64 });
        var root = mb.InitRoot(TestAll.DataWords, TestAll.PointerCount);
        root.WriteInt64(TestAll.Int64, value);
        root.WriteText(TestAll.Text, text);
        root.WriteData(TestAll.Data, data);
        return mb;
    }

    [Fact]
    public void ReaderOfADisposedBuilderThrowsInsteadOfReadingTheNextMessage()
    {
        var a = Build(1, "A", new byte[] { 0xAA });
        var reader = a.AsReader();
        var root = reader.Root;
        var data = root.ReadData(TestAll.Data);
        var segments = a.GetSegments();
        var builderView = a.Root.AsReader().AsStruct();
        Assert.Equal(1, root.ReadInt64(TestAll.Int64));
        a.Dispose();

        // B rents from the same pool, most likely the very array A returned.
        using var b = Build(2, "B", new byte[] { 0xBB });
        Assert.Throws<ObjectDisposedException>(() => root.ReadInt64(TestAll.Int64));
        Assert.Throws<ObjectDisposedException>(() => root.ReadText(TestAll.Text));
        Assert.Throws<ObjectDisposedException>(() => reader.Root);
        Assert.Throws<ObjectDisposedException>(() => builderView.ReadInt64(TestAll.Int64));
        Assert.Throws<ObjectDisposedException>(() => data.Span[0]);
        Assert.Throws<ObjectDisposedException>(() => segments[0].Span[0]);
        Assert.Throws<ObjectDisposedException>(() => MessageReader.FromSegments(segments).Root);
        Assert.Throws<ObjectDisposedException>(() => a.AsReader());

        Assert.Equal(2, b.AsReader().Root.ReadInt64(TestAll.Int64));
    }

    [Fact]
    public void ViewsOfALiveBuilderReadAndPin()
    {
        using var a = Build(7, "seven", new byte[] { 1, 2, 3 });
        var root = MessageReader.FromSegments(a.GetSegments()).Root;
        Assert.Equal(7, root.ReadInt64(TestAll.Int64));
        Assert.Equal("seven", root.ReadText(TestAll.Text));
        var data = root.ReadData(TestAll.Data);
        Assert.Equal(new byte[] { 1, 2, 3 }, data.ToArray());
        unsafe
        {
            using var pin = a.GetSegments()[0].Pin();
            Assert.Equal(a.GetSegments()[0].Span[0], *(byte*)pin.Pointer);
        }
    }
}
