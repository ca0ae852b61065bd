namespace Capnp.Native.BindingGen.Tests;

public class DocCommentTests
{
    [Fact]
    public void Single_line_doc_becomes_one_line_summary_with_xml_escaped()
    {
        var cs = TestHeader.Generate("""
            /** Returns a < b && c > d. */
            CAPNP_NATIVE_API int32_t f(void);
            """);
        Assert.Contains("    /// <summary>Returns a &lt; b &amp;&amp; c &gt; d.</summary>\n    [LibraryImport(LibraryName, EntryPoint = \"f\")]\n", cs);
    }

    [Fact]
    public void Multi_line_doc_strips_star_decoration_and_keeps_blank_lines()
    {
        var cs = TestHeader.Generate("""
            /**
             * First line.
             *
             * Second   paragraph.
             */
            typedef struct h h;
            """);
        Assert.Contains("/// <summary>\n/// First line.\n///\n/// Second   paragraph.\n/// </summary>\ninternal struct h { }\n", cs);
    }

    [Fact]
    public void Docs_on_enum_members_fields_constants_and_trailing_docs_are_kept()
    {
        var cs = TestHeader.Generate("""
            /** The status. */
            typedef enum st {
              /** All good. */
              ST_OK = 0,
              ST_BAD = 1, /**< Went wrong. */
            } st;
            typedef struct rec {
              /** Count. */
              int64_t count;
              int64_t other; /**< Other. */
            } rec;
            #define VERSION 3 /**< Trailing on a define. */
            """);
        Assert.Contains("/// <summary>The status.</summary>\ninternal enum st : int\n", cs);
        Assert.Contains("    /// <summary>All good.</summary>\n    ST_OK = 0,\n", cs);
        Assert.Contains("    /// <summary>Went wrong.</summary>\n    ST_BAD = 1,\n", cs);
        Assert.Contains("    /// <summary>Count.</summary>\n    public long count;\n", cs);
        Assert.Contains("    /// <summary>Other.</summary>\n    public long other;\n", cs);
        Assert.Contains("    /// <summary>Trailing on a define.</summary>\n    internal const int VERSION = 3;\n", cs);
    }

    [Fact]
    public void Ordinary_comments_are_ignored_and_docs_do_not_leak_past_directives()
    {
        var cs = TestHeader.Generate("""
            /* plain */ // line comment
            /*** banner ***/
            /**/
            CAPNP_NATIVE_API int32_t a(void); /* after */
            /** Orphan doc before an attribute macro. */
            #define SOME_ATTR __attribute__((cold))
            CAPNP_NATIVE_API int32_t b(void);
            """);
        Assert.DoesNotContain("plain", cs);
        Assert.DoesNotContain("banner", cs);
        Assert.DoesNotContain("after", cs);
        Assert.DoesNotContain("Orphan", cs);
        Assert.DoesNotContain("/// <summary>", cs);
    }

    [Fact]
    public void Doc_goes_to_the_next_declaration_only()
    {
        var cs = TestHeader.Generate("""
            /** For a. */
            CAPNP_NATIVE_API int32_t a(void);
            CAPNP_NATIVE_API int32_t b(void);
            """);
        Assert.Contains("/// <summary>For a.</summary>\n    [LibraryImport(LibraryName, EntryPoint = \"a\")]", cs);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(cs, "For a"));
    }
}
