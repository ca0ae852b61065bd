using Capnp.Native;
using Calc = Calculator.Calculator;

/// <summary>
/// A calculator expression read out of a message, holding references of its own to the
/// capabilities in it (previous results, functions) until disposed: a request's parameters
/// are gone once its method returns, while a function body is kept for the function's lifetime.
/// </summary>
internal abstract class Expression : IDisposable
{
    /// <summary>Reads an expression; the capabilities it names become references owned by the result.</summary>
    public static Expression Read(Calc.Expression.Reader reader) => reader.Which switch
    {
        Calc.Expression.Which.Literal => new Literal(reader.Literal),
        Calc.Expression.Which.PreviousResult => new PreviousResult(reader.GetPreviousResult() ?? throw new RpcFailedException("previousResult: no Value")),
        Calc.Expression.Which.Parameter => new Parameter(reader.Parameter),
        Calc.Expression.Which.Call => Call.Read(reader.Call),
        var other => throw new RpcFailedException($"Unknown expression type {(ushort)other}"),
    };

    /// <summary>The value of the expression, calling remote functions and values as needed.</summary>
    public abstract Task<double> EvaluateAsync(IReadOnlyList<double> arguments, CancellationToken cancellationToken);

    public virtual void Dispose()
    {
    }

    private sealed class Literal(double value) : Expression
    {
        public override Task<double> EvaluateAsync(IReadOnlyList<double> arguments, CancellationToken cancellationToken) => Task.FromResult(value);
    }

    private sealed class PreviousResult(Calc.Value.Client value) : Expression
    {
        public override async Task<double> EvaluateAsync(IReadOnlyList<double> arguments, CancellationToken cancellationToken)
            => (await value.ReadAsync(cancellationToken)).Value;

        public override void Dispose() => value.Dispose();
    }

    private sealed class Parameter(uint index) : Expression
    {
        public override Task<double> EvaluateAsync(IReadOnlyList<double> arguments, CancellationToken cancellationToken)
            => index < arguments.Count
                ? Task.FromResult(arguments[(int)index])
                : throw new RpcFailedException($"Parameter {index} of a function with {arguments.Count} parameters");
    }

    private sealed class Call(Calc.Function.Client function, List<Expression> parameters) : Expression
    {
        public static Call Read(Calc.Expression.Call.Reader reader)
        {
            var parameters = new List<Expression>();
            try
            {
                foreach (var parameter in reader.Params)
                {
                    parameters.Add(Expression.Read(parameter));
                }

                return new Call(reader.GetFunction() ?? throw new RpcFailedException("call: no function"), parameters);
            }
            catch
            {
                parameters.ForEach(p => p.Dispose());
                throw;
            }
        }

        public override async Task<double> EvaluateAsync(IReadOnlyList<double> arguments, CancellationToken cancellationToken)
        {
            var values = await Task.WhenAll(parameters.Select(p => p.EvaluateAsync(arguments, cancellationToken)));
            var result = await function.CallAsync(p => values.CopyTo(p.InitParams(values.Length).AsSpan()), cancellationToken);
            return result.Value;
        }

        public override void Dispose()
        {
            function.Dispose();
            parameters.ForEach(p => p.Dispose());
        }
    }
}
