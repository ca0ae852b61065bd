namespace Capnp.Native.BindingGen;

public static class Program
{
    public static int Main(string[] args) => BindingGenCli.Run(args, Console.Out, Console.Error);
}
