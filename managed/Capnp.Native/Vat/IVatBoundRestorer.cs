namespace Capnp.Native;

/// <summary>
/// A restorer that needs the vat it serves (its event loop, to hold capabilities; its address, for
/// sturdy refs). <see cref="Vat.StartAsync"/> attaches it once the vat exists; requests that come
/// earlier wait for that.
/// </summary>
internal interface IVatBoundRestorer : IRestorer
{
    /// <summary>Whether a vat was attached already (a restorer serves one vat).</summary>
    bool IsAttached { get; }

    /// <summary>Binds the restorer to <paramref name="vat"/>.</summary>
    /// <exception cref="InvalidOperationException">It serves another vat already.</exception>
    void Attach(Vat vat);
}
