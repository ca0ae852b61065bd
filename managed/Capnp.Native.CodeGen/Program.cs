using System.Text;
using Capnp.Native.Serialization;

namespace Capnp.Native.CodeGen;

/// <summary>
/// capnpc-csharp. Two modes:
/// <list type="bullet">
/// <item>Plugin (no arguments): <c>capnp compile -o/path/capnpc-csharp:OUTDIR file.capnp</c> — reads a
/// CodeGeneratorRequest on stdin and writes <c>dir/file.capnp.cs</c> into the current directory (capnp chdirs to OUTDIR),
/// mirroring each schema's path as capnp names it, as the C++ plugin does.</item>
/// <item>Driver (<c>--compile</c>, used by the MSBuild targets): see <see cref="Driver"/>.</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            if (args.Length > 0 && args[0] == "--compile") return Driver.Run(args[1..]);
            if (args.Length > 0 && args[0] is "-h" or "--help")
            {
                Console.WriteLine("usage: capnp compile -o<path>/capnpc-csharp:OUTDIR file.capnp");
                Console.WriteLine("       " + Driver.Usage);
                return 0;
            }
            using var stdin = Console.OpenStandardInput();
            using var ms = new MemoryStream();
            stdin.CopyTo(ms);
            var outputs = Generate(ms.ToArray());
            if (Collision(outputs.Select(o => o.FileName[..^3]).ToList(), outputs.Select(o => o.FileName).ToList()) is { } collision)
            {
                Console.Error.WriteLine($"capnpc-csharp : error CAPNP0007: {collision}");
                return 1;
            }
            foreach (var (name, content) in outputs)
                WriteFile(Path.Combine(Directory.GetCurrentDirectory(), name), content);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"capnpc-csharp : error CAPNP0003: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Generates C# for every requested file of a framed CodeGeneratorRequest.</summary>
    public static IReadOnlyList<(string FileName, string Content)> Generate(ReadOnlyMemory<byte> framedRequest)
        => new CodeGenerator(Load(framedRequest)).GenerateAll().ToList();

    internal static RequestModel Load(ReadOnlyMemory<byte> framedRequest)
    {
        var message = MessageReader.FromFramed(framedRequest, new ReaderOptions { TraversalLimitInWords = long.MaxValue / 2, NestingLimit = 128 });
        return SchemaLoader.Load(message);
    }

    /// <summary>A message naming two schemas whose generated files would be the same file, or null when all differ.</summary>
    internal static string? Collision(IReadOnlyList<string> schemas, IReadOnlyList<string> outputs)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++)
        {
            var key = Path.GetFullPath(outputs[i]);
            if (seen.TryGetValue(key, out int j))
                return $"The schemas '{schemas[j]}' and '{schemas[i]}' would both be generated into '{outputs[i]}': give them different paths or output names.";
            seen.Add(key, i);
        }
        return null;
    }

    internal static void WriteFile(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
    }
}
