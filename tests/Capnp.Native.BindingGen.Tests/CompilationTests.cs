namespace Capnp.Native.BindingGen.Tests;

/// <summary>
/// The generated C# for every supported construct compiles, with the real LibraryImport source generator of the
/// installed .NET targeting pack run over it (so a non-blittable signature would be an error here, not at run time).
/// </summary>
public class CompilationTests
{
    private const string EveryConstruct = """
        /** Doc & <escaped>. */
        #define ABI_VERSION 1
        #define BIG 0xFFFFFFFFFFFFFFFFull
        #define NEG (-5)
        typedef struct capnp_loop capnp_loop;
        typedef enum capnp_status { CAPNP_STATUS_OK = 0, CAPNP_STATUS_FAILED = 1, CAPNP_STATUS_NEG = -1 } capnp_status;
        typedef void (*capnp_completion_fn)(void* context, uint64_t tag, int32_t status, const uint8_t* payload, size_t payload_len);
        typedef const char* (*name_fn)(capnp_status s, capnp_loop* loop);
        typedef uint64_t capnp_tag;
        typedef struct inner { int8_t a; uint16_t b; uint32_t c; int64_t d; float f; double g; } inner;
        typedef struct capnp_counters {
          int64_t loops; /**< Loops. */
          inner nested;
          capnp_status status;
          capnp_completion_fn callback;
          const char* const* names;
          intptr_t ip;
          uintptr_t up;
          size_t len;
          char text[16];
          uint8_t key[32];
        } capnp_counters;
        CAPNP_NATIVE_API int32_t capnp_abi_version(void);
        CAPNP_NATIVE_API int32_t capnp_loop_create(capnp_completion_fn on_complete, void* context, capnp_loop** out_loop);
        CAPNP_NATIVE_API void capnp_loop_release(capnp_loop* loop);
        CAPNP_NATIVE_API int32_t capnp_last_error(int32_t* out_kind, const char** out_message, size_t* out_message_len);
        CAPNP_NATIVE_API capnp_status capnp_status_of(capnp_status in, capnp_tag tag, name_fn* out_fn, struct inner* event);
        CAPNP_NATIVE_API const char* capnp_name(int8_t a, uint8_t b, int16_t c, uint16_t d, uint32_t e, uint64_t f, intptr_t g, uintptr_t h, char i, float j, double k);
        CAPNP_NATIVE_API int32_t capnp_counters_read(capnp_counters* out_counters);
        """;

    [Fact]
    public void Generated_code_for_every_construct_compiles_with_the_library_import_generator()
    {
        var code = TestHeader.Generate(EveryConstruct);
        var errors = RoslynCompiler.Compile(code, out var generatorRan);
        Assert.True(generatorRan, "the LibraryImport generator produced no source\n" + string.Join("\n", errors));
        Assert.True(errors.Length == 0, string.Join("\n", errors) + "\n\n" + code);
    }

    [Theory]
    [InlineData("string s")] // not blittable
    [InlineData("bool b")]   // why the header grammar rejects bool: LibraryImport will not marshal it implicitly
    public void Compilation_check_detects_non_blittable_signatures(string parameter)
    {
        // The oracle itself must be able to fail, through the LibraryImport generator's own diagnostics.
        var code = TestHeader.Generate("CAPNP_NATIVE_API int32_t f(void);")
            .Replace("partial int f()", $"partial int f({parameter})");
        var errors = RoslynCompiler.Compile(code, out _);
        Assert.Contains(errors, e => e.Contains("SYSLIB1051"));
    }
}
