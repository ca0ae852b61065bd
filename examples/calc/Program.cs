// The seed's calculator example (test-bin/calc.ml):
//
//   calc serve --capnp-secret-key-file key.pem --capnp-listen-address unix:/tmp/calc.socket
//   calc connect capnp://sha-256:...@/tmp/calc.socket/
//
// `serve` publishes the calculator as the vat's public (bootstrap) service, so its URI has an
// empty service ID; `connect` evaluates 40 + 2 in one round trip: getOperator, evaluate with the
// promised operator, and read of the promised value are all sent before any answer arrives.

using System.CommandLine;
using System.Globalization;
using Capnp.Native;
using Calc = Calculator.Calculator;

var vatOptions = new VatCommandLineOptions();
var serve = new Command("serve", "Provide a Cap'n Proto calculator service.");
vatOptions.AddTo(serve);
serve.SetAction(async (parseResult, cancellationToken) =>
{
    await using var vat = await Vat.StartAsync(vatOptions.GetVatOptions(parseResult) with { Bootstrap = new CalculatorService() }, cancellationToken);
    Console.WriteLine("Waiting for incoming connections at:");
    Console.WriteLine(vat.GetSturdyRef());
    try
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
    catch (OperationCanceledException)
    {
        // Interrupted: disposing the vat closes every connection.
    }
});

var address = new Argument<string>("ADDR") { Description = "Address of the server (capnp://...), or a cap file." };
var connect = new Command("connect", "Connect to a Cap'n Proto calculator service.") { address };
connect.SetAction(async (parseResult, cancellationToken) =>
{
    SturdyRef sturdyRef;
    try
    {
        sturdyRef = CapFile.LoadUriOrFile(parseResult.GetRequiredValue(address));
    }
    catch (Exception e) when (e is CapFileException or SturdyRefFormatException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }

    try
    {
        await using var vat = await Vat.StartAsync(new VatOptions(), cancellationToken);
        using var calculator = await vat.ConnectAsync<Calc.Client>(sturdyRef, cancellationToken);
        using var getOperator = calculator.GetOperatorAsync(Calc.Operator.Add, cancellationToken);
        using var add = getOperator.GetFunc();
        using var evaluate = calculator.EvaluateAsync(p =>
        {
            var call = p.InitExpression().InitCall();
            call.Function = add;
            var parameters = call.InitParams(2);
            parameters[0].Literal = 40.0;
            parameters[1].Literal = 2.0;
        }, cancellationToken);
        using var value = evaluate.GetValue();
        var result = await value.ReadAsync(cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Result: {result.Value:F6}"));
        return 0;
    }
    catch (RpcException e)
    {
        Console.Error.WriteLine($"{sturdyRef.ToRedactedString()}: {e.Message}");
        return 1;
    }
});

var calc = new RootCommand("A calculator example.") { serve, connect };
return await calc.Parse(args).InvokeAsync();
