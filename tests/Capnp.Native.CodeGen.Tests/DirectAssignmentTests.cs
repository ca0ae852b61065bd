using System.Text;
using Capnp.Native.Serialization;
using CodeGenTests.Api;

namespace Capnp.Native.CodeGen.Tests;

/// <summary>
/// Builders that generated getters (struct, group, list and union-member fields) hand out are <c>ref readonly</c>
/// to a per-thread slot (<see cref="BuilderSlot{T}"/>, issue 12): assigning through them compiles and writes the
/// message, without allocating; a copy stays valid; two references of one type kept alive together share the slot.
/// The indexers of struct lists and lists of lists return <c>ref readonly</c> to a slot inside the list value itself
/// (on the caller's stack for a local list, not per thread), so <c>items[1].X = 7</c> and <c>d.Points[1].X = 7</c>
/// compile too; a reference into it is valid until the next indexer call on the same list value.
/// Schema: <c>Direct</c> in schemas/generated_api.capnp.
/// </summary>
public class DirectAssignmentTests
{
    private static async Task<string> DecodeAsync(MessageBuilder mb, string type)
    {
        var res = await TestEnvironment.CapnpAsync(mb.ToFramedArray(), "decode", "--short", "generated_api.capnp", type);
        Assert.True(res.ExitCode == 0, res.Stderr);
        return res.StdoutText.Trim();
    }

    [Fact]
    public async Task AssignmentsThroughEveryKindOfGetterWriteTheMessage()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        d.Point.X = 1;                      // struct field
        d.Point.Y = 2;
        d.Node.Next.Next.X = 3;             // the same type chained: each getter reads its receiver before reusing the slot
        d.Node.X = 4;
        d.Grp.X = 5;                        // group
        d.Grp.Inner.Y = 6;                  // struct field of a group
        d.InitPoints(2);
        d.Points[1].X = 7;                  // struct list field, element
        d.InitInts(2);
        d.Ints[0] = 8;                      // primitive list field, element
        d.InitNames(2);
        d.Names[1] = "x";                   // text list field, element
        d.InitPointLists(2).Init(0, 2);
        d.PointLists[0][1].X = 9;           // list of lists: inner list, element
        d.InitMember();
        d.Member.Y = 10;                    // union member

        Assert.Equal(
            "(point = (x = 1, y = 2), node = (x = 4, next = (x = 0, next = (x = 3))), grp = (x = 5, inner = (x = 0, y = 6)), "
            + "points = [(x = 0, y = 0), (x = 7, y = 0)], ints = [8, 0], names = [\"\", \"x\"], "
            + "pointLists = [[(x = 0, y = 0), (x = 9, y = 0)], []], member = (x = 0, y = 10))",
            await DecodeAsync(mb, "Direct"));

        var r = MessageReader.FromFramed(mb.ToFramedArray()).GetRoot<Direct.Reader>();
        Assert.Equal((1, 2), (r.Point.X, r.Point.Y));
        Assert.Equal(3, r.Node.Next.Next.X);
        Assert.Equal(4, r.Node.X);
        Assert.Equal((5, 6), (r.Grp.X, r.Grp.Inner.Y));
        Assert.Equal(7, r.Points[1].X);
        Assert.Equal(8, r.Ints[0]);
        Assert.Equal("x", r.Names[1]);
        Assert.Equal(9, r.PointLists[0][1].X);
        Assert.Equal(Direct.Which.Member, r.Which);
        Assert.Equal(10, r.Member.Y);
        // The builder prints its current value too.
        Assert.Contains("member = (x = 0, y = 10)", d.ToString());
    }

    [Fact]
    public void ElementsOfALocalListAreAssignedThroughTheIndexer()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        var items = d.InitPoints(3);
        items[1].X = 7;
        items[2].Y = 8;
        var lists = d.InitPointLists(2);
        lists.Init(1, 3);
        lists[1][2].X = 9;

        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal((0, 0, 7, 0, 0, 8), (r.Points[0].X, r.Points[0].Y, r.Points[1].X, r.Points[1].Y, r.Points[2].X, r.Points[2].Y));
        Assert.Equal(0, r.PointLists[0].Count);
        Assert.Equal((0, 9), (r.PointLists[1][1].X, r.PointLists[1][2].X));
    }

    [Fact]
    public void InnerListsAndInitResultsAreAssignedThroughTheIndexer()
    {
        using var mb = new MessageBuilder();
        var h = mb.InitRoot<Holder.Builder>();
        h.InitPoints(2)[1].X = 4;           // an Init method's result, indexed
        h.InitIntLists(2).Init(1, 3);
        h.IntLists[1][2] = 5;               // inner primitive list through the list of lists' indexer
        h.InitTextLists(1).Init(0, 2);
        h.TextLists[0][1] = "t";
        h.InitDeep(1).Init(0, 2).Init(1, 3);
        h.Deep[0][1][2] = 6;

        var r = mb.AsReader().GetRoot<Holder.Reader>();
        Assert.Equal(4, r.Points[1].X);
        Assert.Equal(5, r.IntLists[1][2]);
        Assert.Equal("t", r.TextLists[0][1]);
        Assert.Equal(6, r.Deep[0][1][2]);
    }

    [Fact]
    public void AKeptElementReferenceSeesTheNextIndexerCallOnTheSameListValue()
    {
        // The documented caveat (ListOfStructsBuilder<T>, RuntimeContract.md): the slot is in the list value.
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        var items = d.InitPoints(2);
        ref readonly Point.Builder first = ref items[0];
        _ = items[1];                       // reuses items' slot: `first` now designates element 1
        first.X = 1;
        var copy = items;                   // another list value has its own slot
        ref readonly Point.Builder zero = ref copy[0];
        _ = items[1];
        zero.Y = 2;

        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal((0, 2), (r.Points[0].X, r.Points[0].Y));
        Assert.Equal((1, 0), (r.Points[1].X, r.Points[1].Y));
    }

    [Fact]
    public void UnionMemberGetterStillThrowsWhileAnotherMemberIsSet()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        d.SetNone();
        var e = Assert.Throws<InvalidOperationException>(() => d.Member.X = 1);
        Assert.Contains("InitMember", e.Message);
        Assert.Equal(Direct.Which.None, d.Which);
    }

    [Fact]
    public void ACopyStaysValidAfterAnotherBuilderOfItsTypeIsHandedOut()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        var point = d.Point;                // copied out of the slot
        d.Grp.Inner.X = 5;                  // hands out another Point.Builder: the slot now holds grp.inner
        point.X = 1;
        point.Y = 2;
        var points = d.InitPoints(2);
        var first = points[0];              // copies: the indexer's slot (in `points`) is reused by the next call
        var second = points[1];
        second.X = 3;
        first.Y = 4;

        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal((1, 2), (r.Point.X, r.Point.Y));
        Assert.Equal((5, 0), (r.Grp.Inner.X, r.Grp.Inner.Y));
        Assert.Equal((0, 4), (r.Points[0].X, r.Points[0].Y));
        Assert.Equal((3, 0), (r.Points[1].X, r.Points[1].Y));
    }

    [Fact]
    public void TwoReferencesOfOneTypeKeptTogetherShareTheSlot()
    {
        // The documented caveat (BuilderSlot<T>, RuntimeContract.md): a kept reference sees the next builder of its type.
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        ref readonly Point.Builder point = ref d.Point;
        ref readonly Point.Builder inner = ref d.Grp.Inner;
        point.X = 1;                        // writes grp.inner: both references are the one slot
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.CompilerServices.Unsafe.AsRef(in point), ref System.Runtime.CompilerServices.Unsafe.AsRef(in inner)));

        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal(0, r.Point.X);
        Assert.Equal(1, r.Grp.Inner.X);
    }

    [Fact]
    public void EachThreadHasItsOwnSlots()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        d.InitPoint();
        d.Grp.InitInner();                  // both allocated up front: the threads below only navigate and write
        const int n = 200_000;
        // Two threads handing out Point.Builders at once: thread 0 writes only point.x, thread 1 only grp.inner.y.
        // A slot shared between them would at times send a write to the other thread's builder.
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t =>
        {
            for (int i = 1; i <= n; i++)
            {
                if (t == 0)
                    d.Point.X = i;
                else
                    d.Grp.Inner.Y = -i;
            }
        });

        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal((n, 0), (r.Point.X, r.Point.Y));
        Assert.Equal((0, -n), (r.Grp.Inner.X, r.Grp.Inner.Y));
    }

    [Fact]
    public void AssigningThroughHandedOutBuildersAllocatesNothing()
    {
        using var mb = new MessageBuilder();
        var d = mb.InitRoot<Direct.Builder>();
        d.InitPoints(100);
        d.InitInts(100);
        d.InitPointLists(1).Init(0, 100);
        d.InitMember();
        Fill(d); // the first hand-out on a thread allocates its slot; the JIT may compile more than once
        Fill(d);

        long before = GC.GetAllocatedBytesForCurrentThread();
        Fill(d);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        var r = mb.AsReader().GetRoot<Direct.Reader>();
        Assert.Equal(99, r.Points[99].X);
        Assert.Equal(98, r.Ints[98]);
        Assert.Equal(97, r.PointLists[0][97].Y);
        Assert.Equal(3, r.Grp.Inner.X);
        Assert.Equal((99, 99, 99), (r.Point.X, r.Node.Next.Next.X, r.Member.Y));
    }

    private static void Fill(Direct.Builder d)
    {
        // Field navigation, straight through the getters' references.
        for (int i = 0; i < 100; i++)
        {
            d.Point.X = i;
            d.Node.Next.Next.X = i;
            d.Grp.Inner.X = 3;
            d.Ints[i] = i;
            d.Member.Y = i;
        }
        // List elements, through the indexers and through locals.
        var points = d.Points;
        var inner = d.PointLists[0];
        for (int i = 0; i < points.Count; i++)
        {
            points[i].X = i;
            d.Points[i].Y = i;
            inner[i].X = i;
            d.PointLists[0][i].Y = i;
            var p = points[i];
            p.X = i;
            var r = inner[i];
            r.Y = i;
        }
    }
}
