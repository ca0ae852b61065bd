using System.Buffers.Binary;
using Capnp.Native.Persistence;

namespace Capnp.Native.Persistence.Tests;

/// <summary>
/// The child processes of the tests:
/// <list type="bullet">
/// <item><c>store-writer KIND LOCATION</c> (crash tests) saves large self-checking entries in a loop and
/// prints <c>saved KEY ROUND</c> after each completed save, until killed;</item>
/// <item><c>replica KEYFILE KIND LOCATION [ADDRESS]</c> (replica and restart tests) serves label
/// services from the store as a vat with the key in KEYFILE at ADDRESS (default: a free loopback
/// port), prints <c>LISTENING ADDRESS</c>, and serves until its standard input closes.</item>
/// </list>
/// </summary>
public static class Program
{
    public const int EntrySize = 1 << 20;
    public const int Keys = 4;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["replica", var keyFile, var kind, var location, .. var rest] && rest.Length <= 1)
        {
            return await ServeReplicaAsync(keyFile, kind, location, rest.Length == 1 ? rest[0] : "tcp:127.0.0.1:0");
        }

        if (args.Length != 3 || args[0] != "store-writer")
        {
            await Console.Error.WriteLineAsync("usage: store-writer KIND LOCATION | replica KEYFILE KIND LOCATION [ADDRESS]");
            return 2;
        }

        var store = await Stores.OpenAsync(args[1], args[2]);
        for (var round = 1; ; round++)
        {
            var key = round % Keys;
            await store.SaveAsync(KeyDigest(key), Entry(round));
            Console.WriteLine($"saved {key} {round}");
        }
    }

    private static async Task<int> ServeReplicaAsync(string keyFile, string kind, string location, string address)
    {
        var store = await Stores.OpenAsync(kind, location);
        await using var table = LabelService.Table(store);
        await using var vat = await Vat.StartAsync(new VatOptions
        {
            Identity = VatIdentity.Load(keyFile),
            ListenAddress = VatAddress.Parse(address),
            Restorer = table,
        });
        Console.WriteLine($"LISTENING {vat.ListenAddress}");
        await Console.In.ReadToEndAsync();
        await Stores.CloseAsync(store);
        return 0;
    }

    public static ServiceDigest KeyDigest(int key) => ServiceDigest.Of(BitConverter.GetBytes(key));

    /// <summary>An entry: the round number, then the round's low byte repeated.</summary>
    public static byte[] Entry(int round)
    {
        var data = new byte[EntrySize];
        data.AsSpan(4).Fill((byte)round);
        BinaryPrimitives.WriteInt32LittleEndian(data, round);
        return data;
    }

    /// <summary>The round a whole entry was written in; fails on a partial or mixed one.</summary>
    public static int RoundOf(byte[] data)
    {
        Assert.Equal(EntrySize, data.Length);
        var round = BinaryPrimitives.ReadInt32LittleEndian(data);
        Assert.True(data.AsSpan(4).IndexOfAnyExcept((byte)round) < 0, $"entry of round {round} is mixed");
        return round;
    }
}
