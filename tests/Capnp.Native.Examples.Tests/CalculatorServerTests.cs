using Calc = Calculator.Calculator;

namespace Capnp.Native.Examples.Tests;

/// <summary>
/// The calc example's server, run as a process, answers every method of calculator.capnp as
/// Cap'n Proto's sample client expects (the example's own client only adds 40 and 2).
/// </summary>
public sealed class CalculatorServerTests
{
    [Fact]
    public async Task TheCalcServerEvaluatesPipelinedExpressionsDefinedFunctionsAndClientCallbacks()
    {
        using var folder = new TempFolder();
        await using var server = ExampleProcess.Start("calc", folder.Path,
            "serve", "--capnp-secret-key-file", "", "--capnp-listen-address", "tcp:127.0.0.1:0");
        var uri = await server.WaitForLineAsync(line => line.StartsWith("capnp://"), "with the server's URI");
        await using var vat = await Vat.StartAsync(new VatOptions());
        using var calculator = await vat.ConnectAsync<Calc.Client>(SturdyRef.Parse(uri)).WaitAsync(ExampleProcess.Bound);
        using var addAnswer = calculator.GetOperatorAsync(Calc.Operator.Add);
        using var add = addAnswer.GetFunc();
        using var subtractAnswer = calculator.GetOperatorAsync(Calc.Operator.Subtract);
        using var subtract = subtractAnswer.GetFunc();
        using var multiplyAnswer = calculator.GetOperatorAsync(Calc.Operator.Multiply);
        using var multiply = multiplyAnswer.GetFunc();

        // A literal.
        Assert.Equal(123, await EvaluateAsync(calculator, e => e.Literal = 123));

        // 123 + 45 - 67, the operators used before their answers arrive.
        Assert.Equal(101, await EvaluateAsync(calculator, e => Call(e, subtract,
            p => Call(p, add, q => q.Literal = 123, q => q.Literal = 45),
            p => p.Literal = 67)));

        // A previous result, passed back before it is known: (4 + 6) * 2.
        using var sumAnswer = calculator.EvaluateAsync(p => Call(p.InitExpression(), add, e => e.Literal = 4, e => e.Literal = 6));
        using var sum = sumAnswer.GetValue();
        Assert.Equal(20, await EvaluateAsync(calculator, e => Call(e, multiply, p => p.PreviousResult = sum, p => p.Literal = 2)));

        // Functions defined on the server: f(x, y) = x * (y + 100); g(x) = f(x, x * 2).
        using var fAnswer = calculator.DefFunctionAsync(p =>
        {
            p.ParamCount = 2;
            Call(p.InitBody(), multiply, e => e.Parameter = 0, e => Call(e, add, a => a.Parameter = 1, a => a.Literal = 100));
        });
        using var f = fAnswer.GetFunc();
        using var gAnswer = calculator.DefFunctionAsync(p =>
        {
            p.ParamCount = 1;
            Call(p.InitBody(), f, e => e.Parameter = 0, e => Call(e, multiply, a => a.Parameter = 0, a => a.Literal = 2));
        });
        using var g = gAnswer.GetFunc();
        Assert.Equal(12 * 134, await EvaluateAsync(calculator, e => Call(e, f, p => p.Literal = 12, p => p.Literal = 34)));
        Assert.Equal(21 * 142, await EvaluateAsync(calculator, e => Call(e, g, p => p.Literal = 21)));

        // A function of the client's, called back by the server: 2 ^ (4 + 5).
        using var power = Calc.Function.Client.Create(new PowerFunction());
        Assert.Equal(512, await EvaluateAsync(calculator, e => Call(e, power, p => p.Literal = 2, p => Call(p, add, a => a.Literal = 4, a => a.Literal = 5))));
    }

    private static async Task<double> EvaluateAsync(Calc.Client calculator, Action<Calc.Expression.Builder> build)
    {
        using var answer = calculator.EvaluateAsync(p => build(p.InitExpression()));
        using var value = answer.GetValue();
        return (await value.ReadAsync().AsTask().WaitAsync(ExampleProcess.Bound)).Value;
    }

    private static void Call(Calc.Expression.Builder expression, Calc.Function.Client function, params Action<Calc.Expression.Builder>[] parameters)
    {
        var call = expression.InitCall();
        call.Function = function;
        var list = call.InitParams(parameters.Length);
        for (var i = 0; i < parameters.Length; i++)
        {
            parameters[i](list[i]);
        }
    }

    private sealed class PowerFunction : Calc.Function.Server
    {
        public override Task CallAsync(Calc.Function.CallParams.Reader parameters, Calc.Function.CallResults.Builder results, CancellationToken cancellationToken)
        {
            results.Value = Math.Pow(parameters.Params[0], parameters.Params[1]);
            return Task.CompletedTask;
        }
    }
}
