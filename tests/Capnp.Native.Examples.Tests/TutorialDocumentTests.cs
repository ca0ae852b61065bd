using System.Reflection;
using System.Text.RegularExpressions;

namespace Capnp.Native.Examples.Tests;

/// <summary>
/// docs/tutorial.md shows code taken from the examples, trimmed: every line of its C# and schema
/// blocks (before the FAQ, whose snippets are sketches) must still be a line of some example, so
/// that changing an example without its walkthrough fails here.
/// </summary>
public sealed partial class TutorialDocumentTests
{
    [GeneratedRegex(@"^```(csharp|capnp)\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [Fact]
    public void EveryCodeLineOfTheWalkthroughIsALineOfAnExample()
    {
        var examples = typeof(TutorialDocumentTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ExamplesFolder").Value!;
        var document = File.ReadAllText(Path.Combine(examples, "..", "docs", "tutorial.md"));
        var walkthrough = document[..document.IndexOf("\n## FAQ\n", StringComparison.Ordinal)];
        var exampleLines = Directory.EnumerateFiles(examples, "*", SearchOption.AllDirectories)
            .Where(path => path.EndsWith(".cs", StringComparison.Ordinal) || path.EndsWith(".capnp", StringComparison.Ordinal))
            .Where(path => !path.Contains("/obj/", StringComparison.Ordinal) && !path.Contains("/bin/", StringComparison.Ordinal))
            .SelectMany(File.ReadLines)
            .Select(line => line.Trim())
            .ToHashSet(StringComparer.Ordinal);

        var blocks = CodeBlock().Matches(walkthrough);
        Assert.True(blocks.Count >= 20, $"Only {blocks.Count} code blocks found: is the pattern still right?");
        var missing = blocks
            .SelectMany(block => block.Groups[2].Value.Split('\n'))
            .Select(line => line.Trim())
            // "..." marks where a snippet leaves lines out.
            .Where(line => line.Length > 0 && line != "...")
            .Where(line => !exampleLines.Contains(line))
            .ToList();

        Assert.True(missing.Count == 0, "Lines of docs/tutorial.md found in no example:\n" + string.Join('\n', missing));
    }
}
