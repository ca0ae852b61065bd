using System.Globalization;
using Capnp.Native;
using Calc = Calculator.Calculator;

/// <summary>The calculator: evaluates expressions, defines functions and gives out its operators.</summary>
internal sealed class CalculatorService : Calc.Server
{
    private static readonly Calc.Function.Server Add = new Operator((a, b) => a + b);
    private static readonly Calc.Function.Server Subtract = new Operator((a, b) => a - b);
    private static readonly Calc.Function.Server Multiply = new Operator((a, b) => a * b);
    private static readonly Calc.Function.Server Divide = new Operator((a, b) => a / b);

    public override Task EvaluateAsync(Calc.EvaluateParams.Reader parameters, Calc.EvaluateResults.Builder results, CancellationToken cancellationToken)
    {
        // Answer at once with a Value for the result still being computed (the client may
        // pipeline calls on it); the expression's capabilities are released once it is computed.
        var expression = Expression.Read(parameters.Expression);
        using var value = Calc.Value.Client.Create(new ValueService(EvaluateAndReleaseAsync(expression)));
        results.Value = value;
        return Task.CompletedTask;
    }

    private static async Task<double> EvaluateAndReleaseAsync(Expression expression)
    {
        using (expression)
        {
            return await expression.EvaluateAsync([], CancellationToken.None);
        }
    }

    public override Task DefFunctionAsync(Calc.DefFunctionParams.Reader parameters, Calc.DefFunctionResults.Builder results, CancellationToken cancellationToken)
    {
        using var function = Calc.Function.Client.Create(new FunctionService(parameters.ParamCount, Expression.Read(parameters.Body)));
        results.Func = function;
        return Task.CompletedTask;
    }

    public override Task GetOperatorAsync(Calc.GetOperatorParams.Reader parameters, Calc.GetOperatorResults.Builder results, CancellationToken cancellationToken)
    {
        var server = parameters.Op switch
        {
            Calc.Operator.Add => Add,
            Calc.Operator.Subtract => Subtract,
            Calc.Operator.Multiply => Multiply,
            Calc.Operator.Divide => Divide,
            var other => throw new RpcFailedException($"Unknown operator {(ushort)other}"),
        };
        using var function = Calc.Function.Client.Create(server);
        results.Func = function;
        return Task.CompletedTask;
    }

    /// <summary>A value, read once it is computed.</summary>
    private sealed class ValueService(Task<double> value) : Calc.Value.Server
    {
        public override async Task ReadAsync(Calc.Value.ReadParams.Reader parameters, Calc.Value.ReadResults.Builder results, CancellationToken cancellationToken)
            => results.Value = await value.WaitAsync(cancellationToken);
    }

    /// <summary>A function defined by a client: its body, evaluated with the call's arguments.</summary>
    private sealed class FunctionService(int parameterCount, Expression body) : Calc.Function.Server
    {
        public override async Task CallAsync(Calc.Function.CallParams.Reader parameters, Calc.Function.CallResults.Builder results, CancellationToken cancellationToken)
        {
            var arguments = parameters.Params.ToArray();
            if (arguments.Length != parameterCount)
            {
                throw new RpcFailedException($"Expected {parameterCount} parameters, got {arguments.Length}");
            }

            results.Value = await body.EvaluateAsync(arguments, cancellationToken);
        }

        // The release hook: the last reference to the function is gone.
        protected override ValueTask OnReleasedAsync()
        {
            body.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>An arithmetic operator; it prints each operation, as the seed's calculator logs it.</summary>
    private sealed class Operator(Func<double, double, double> operation) : Calc.Function.Server
    {
        public override Task CallAsync(Calc.Function.CallParams.Reader parameters, Calc.Function.CallResults.Builder results, CancellationToken cancellationToken)
        {
            var arguments = parameters.Params;
            if (arguments.Count != 2)
            {
                throw new RpcFailedException("Wrong number of args");
            }

            var (a, b) = (arguments[0], arguments[1]);
            var answer = operation(a, b);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{a:F6} op {b:F6} -> {answer:F6}"));
            results.Value = answer;
            return Task.CompletedTask;
        }
    }
}
