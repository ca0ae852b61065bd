using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Capnp.Native.Serialization;

/// <summary>
/// Per-thread storage for the builders that generated getters (struct, group and list fields) hand out, so that they
/// can return <c>ref readonly</c>. A builder returned by value is a temporary, and setting a member of a property's
/// value is CS1612 (<c>e.Point.X = 1</c>); through a <c>ref readonly</c> return it compiles and writes the message,
/// because builders are <c>readonly</c> structs whose setters write to the message, never to the struct. Used by
/// generated code; applications have no reason to call it.
/// </summary>
/// <typeparam name="T">The builder type (a generated <c>Builder</c> or a typed list builder).</typeparam>
/// <remarks>
/// <para>Each thread has one slot per builder type: a reference handed out stays valid until the next builder of the
/// same type is handed out on the same thread. Using the builder at once (<c>e.Point.X = 1</c>, <c>e.A.B.X = 1</c>)
/// or copying it (<c>var p = e.Point;</c>, a value parameter) is always safe; what can see a later builder is a
/// reference kept while another builder of the same type is handed out: a <c>ref readonly</c> local, an <c>in</c>
/// parameter (<c>M(in e.A, in e.B)</c>), or <c>this</c> inside a <c>readonly</c> member called on the returned
/// reference that navigates to a builder of its own type. Copy to a local first in those cases.</para>
/// <para>A slot keeps the last builder of its type reachable, and with it the <see cref="MessageBuilder"/> (segments
/// are returned to the pool by <see cref="MessageBuilder.Dispose"/> whatever the slot holds).</para>
/// <para>One slot per type rather than a ring of several: a ring of 8 cost about twice as much per hand-out in a
/// microbenchmark (the cursor is read and written in thread-local storage too).</para>
/// <para>The indexers of struct lists and lists of lists do not use it: they return <c>ref readonly</c> to a slot
/// inside the list value (<see cref="ListOfStructsBuilder{T}"/>), on the caller's stack for a local list. Through
/// this per-thread slot, a thread-local store and reload per element, BuildList1000 went from 0.67x C++ to 2.8x.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BuilderSlot<T>
{
    [ThreadStatic] private static T? t_slot;

    /// <summary>Stores <paramref name="value"/> in this thread's slot for <typeparamref name="T"/> and returns a read-only reference to it.</summary>
    /// <param name="value">The builder to hand out.</param>
    /// <returns>A reference that stays valid until the next builder of type <typeparamref name="T"/> is handed out on this thread.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref readonly T Hold(T value)
    {
        ref T slot = ref t_slot!;
        slot = value;
        return ref slot;
    }
}
