// Runs DMUpgrade_Orchestrator's Script once against the stub Engine and writes what it did as one JSON object.
//
//   mono Harness.exe --out=FILE [--param=ID:NAME=VALUE]... [--dms-agent=ID]... [--dms-agents-error=TEXT]
//
// FILE gets {"outputs": [[key, value], ...], "exit_fail": reason or null, "exception": text or null,
// "log": [...], "slnet_messages": n}. The answer goes to a file, not stdout: the runner the script starts
// inherits this process's stdout, and a reader of a pipe would wait for the runner too.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using Skyline.DataMiner.Automation;

public static class Harness
{
    public static int Main(string[] args)
    {
        var engine = new Engine();
        string output = null;
        foreach (string arg in args)
        {
            if (arg.StartsWith("--out=", StringComparison.Ordinal))
            {
                output = arg.Substring("--out=".Length);
            }
            else if (arg.StartsWith("--param=", StringComparison.Ordinal))
            {
                string spec = arg.Substring("--param=".Length);
                int colon = spec.IndexOf(':');
                int equals = spec.IndexOf('=', colon + 1);
                int id = int.Parse(spec.Substring(0, colon), CultureInfo.InvariantCulture);
                engine.StubParams.Add(new ScriptParam(id, spec.Substring(colon + 1, equals - colon - 1),
                                                      spec.Substring(equals + 1)));
            }
            else if (arg.StartsWith("--dms-agent=", StringComparison.Ordinal))
            {
                engine.StubAgentIds.Add(int.Parse(arg.Substring("--dms-agent=".Length), CultureInfo.InvariantCulture));
            }
            else if (arg.StartsWith("--dms-agents-error=", StringComparison.Ordinal))
            {
                engine.StubAgentsError = arg.Substring("--dms-agents-error=".Length);
            }
            else
            {
                Console.Error.WriteLine("unknown argument " + arg);
                return 2;
            }
        }

        if (output == null)
        {
            Console.Error.WriteLine("--out=FILE is required");
            return 2;
        }

        string exception = null;
        try
        {
            new Script().Run(engine);
        }
        catch (ScriptAbortException)
        {
            // ExitFail's documented way out; StubExitFailReason holds its reason.
        }
        catch (Exception e)
        {
            exception = e.ToString();
        }

        var json = new StringBuilder();
        json.Append("{\"outputs\": [");
        for (int i = 0; i < engine.StubOutputs.Count; i++)
        {
            json.Append(i == 0 ? "" : ", ").Append('[').Append(Quote(engine.StubOutputs[i].Key)).Append(", ")
                .Append(Quote(engine.StubOutputs[i].Value)).Append(']');
        }

        json.Append("], \"exit_fail\": ").Append(Quote(engine.StubExitFailReason));
        json.Append(", \"exception\": ").Append(Quote(exception));
        json.Append(", \"log\": [");
        for (int i = 0; i < engine.StubLog.Count; i++)
        {
            json.Append(i == 0 ? "" : ", ").Append(Quote(engine.StubLog[i]));
        }

        json.Append("], \"slnet_messages\": ").Append(engine.StubSlnetMessages.ToString(CultureInfo.InvariantCulture));
        json.Append("}\n");
        File.WriteAllText(output, json.ToString(), new UTF8Encoding(false));
        return 0;
    }

    private static string Quote(string text)
    {
        if (text == null)
        {
            return "null";
        }

        var quoted = new StringBuilder("\"");
        foreach (char c in text)
        {
            if (c == '"' || c == '\\')
            {
                quoted.Append('\\').Append(c);
            }
            else if (c < ' ')
            {
                quoted.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                quoted.Append(c);
            }
        }

        return quoted.Append('"').ToString();
    }
}
