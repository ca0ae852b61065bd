using Capnp.Native;
using Capnp.Native.Persistence;
using Capnp.Native.Rpc;
using Capnp.Native.Serialization;
using Store;

/// <summary>
/// The loggers' database (the seed's <c>Db</c>): each saved logger is a <c>SavedService</c>
/// struct (store.capnp) in a <see cref="FileServiceStore"/> folder, under the digest of its ID.
/// Cap'n Proto as the stored format lets fields or service types be added later.
/// </summary>
internal sealed class Db(string folder)
{
    private readonly FileServiceStore store = new(folder);

    /// <summary>
    /// A restorer table that loads the saved logger an unknown ID names, with <paramref name="load"/>
    /// (given the logger's sturdy ref and label), the first time someone asks for it.
    /// </summary>
    public RestorerTable CreateTable(Func<SturdyRef, string, ICallTarget> load)
        => RestorerTable.FromStore(store, (sturdyRef, data, _) => ValueTask.FromResult(load(sturdyRef, ReadLabel(data))));

    /// <summary>Saves a new logger with <paramref name="label"/> and returns its new random ID (the store keeps only its digest).</summary>
    public ValueTask<byte[]> SaveNewAsync(string label, CancellationToken cancellationToken)
    {
        var message = new MessageBuilder();
        var service = message.InitRoot<SavedService.Builder>();
        var logger = service.InitLogger();
        logger.Label = label;
        return store.AddNewAsync(message.ToFramedArray(), cancellationToken);
    }

    private static string ReadLabel(ReadOnlyMemory<byte> data)
        => MessageReader.FromFramed(data).GetRoot<SavedService.Reader>().Logger.Label;
}
