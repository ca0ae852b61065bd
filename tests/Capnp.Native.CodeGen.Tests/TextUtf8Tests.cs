using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Schema;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>Generated readers give Text as UTF-8 bytes read in place, beside the string accessor (issue 12).</summary>
public class TextUtf8Tests
{
    [Fact]
    public void TextFieldsReadAsUtf8WithoutAllocating()
    {
        using var mb = new MessageBuilder();
        var b = mb.InitRoot<AllTypes.Builder>();
        b.TextField = "héllo";
        var r = MessageReader.FromFramed(mb.ToFramedArray(), new ReaderOptions { TraversalLimitInWords = long.MaxValue })
            .GetRoot<AllTypes.Reader>();

        Assert.Equal(Encoding.UTF8.GetBytes("héllo"), r.TextFieldUtf8.ToArray());
        Assert.Equal("def"u8.ToArray(), r.TextDefaultUtf8.ToArray()); // unset: the schema default
        Assert.True(default(AllTypes.Reader).TextFieldUtf8.IsEmpty);

        long length = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) length += r.TextFieldUtf8.Length + r.TextDefaultUtf8.Length;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1000 * (6 + 3), length);
        Assert.Equal(0, allocated);
    }
}
