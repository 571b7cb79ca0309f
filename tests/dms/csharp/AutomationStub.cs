// A stub of the part of DataMiner's Automation API that DMUpgrade_Orchestrator.xml uses, so its C# compiles
// and runs under mono in dm-upgrade's tests. Public signatures are the documented ones (dataminer-docs:
// src/DataMiner/SLManagedAutomation/Engine.cs, ScriptParam.cs, ScriptAbortException.cs,
// src/DataMiner/SLNetTypes/Types.cs for DMSMessage, and
// develop/devguide/GQI_Extensions/Ad_hoc_data/Ad_hoc_Tutorials_Interact_With_DMS.md for GetInfoMessage,
// InfoType.DataMinerInfo and GetDataMinerInfoResponseMessage.ID). Nothing else is declared public, so a script
// that uses an undocumented member fails to compile here. The stub's own state is internal: only the harness
// (Harness.cs, a separate assembly named in InternalsVisibleTo) reads and sets it; the script, compiled into an
// assembly of its own, cannot.
using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Skyline.DataMiner.Net.Messages;

[assembly: InternalsVisibleTo("Harness")]

namespace Skyline.DataMiner.Net.Exceptions
{
    // ScriptAbortException derives from it (ScriptAbortException.cs).
    public class DataMinerException : Exception
    {
        public DataMinerException(string message) : base(message)
        {
        }
    }
}

namespace Skyline.DataMiner.Net.Messages
{
    // Types.cs: abstract, with a protected constructor.
    [Serializable]
    public abstract class DMSMessage
    {
        protected DMSMessage()
        {
        }
    }

    // Only the member the tutorial uses. Its numeric value is not documented and not needed.
    public enum InfoType
    {
        DataMinerInfo,
    }

    public class GetInfoMessage : DMSMessage
    {
        public GetInfoMessage(InfoType type)
        {
            StubType = type;
        }

        internal InfoType StubType { get; private set; }
    }

    // The tutorial reads .ID and passes it where an agent ID (an int) is expected.
    public class GetDataMinerInfoResponseMessage : DMSMessage
    {
        public int ID { get; set; }
    }
}

namespace Skyline.DataMiner.Automation
{
    using Skyline.DataMiner.Net.Exceptions;

    public class ScriptParam
    {
        internal ScriptParam(int id, string name, string value)
        {
            Id = id;
            Name = name;
            Value = value;
        }

        public int Id { get; }

        public string Name { get; }

        public string Value { get; private set; }

        public void SetParamValue(string val)
        {
            Value = val;
        }
    }

    public class ScriptAbortException : DataMinerException
    {
        public ScriptAbortException(string message) : base(message)
        {
        }
    }

    public class Engine
    {
        // ---- stub state, set and read by the harness
        internal readonly List<ScriptParam> StubParams = new List<ScriptParam>();
        internal readonly List<KeyValuePair<string, string>> StubOutputs = new List<KeyValuePair<string, string>>();
        internal readonly List<string> StubLog = new List<string>();
        internal readonly List<int> StubAgentIds = new List<int>();
        internal string StubAgentsError;   // when set, SendSLNetMessage throws a DataMinerException with it
        internal string StubExitFailReason; // set by ExitFail
        internal int StubSlnetMessages;

        public Engine()
        {
        }

        // Engine.cs: ArgumentNullException for a null key, ArgumentException when the key exists already.
        public virtual void AddScriptOutput(string key, string value)
        {
            if (key == null)
            {
                throw new ArgumentNullException("key");
            }

            foreach (KeyValuePair<string, string> output in StubOutputs)
            {
                if (output.Key == key)
                {
                    throw new ArgumentException("An element with the same key already exists: " + key);
                }
            }

            StubOutputs.Add(new KeyValuePair<string, string>(key, value));
        }

        // Engine.cs: "This method throws an ScriptAbortException."
        public void ExitFail(string reason)
        {
            StubExitFailReason = reason;
            throw new ScriptAbortException(reason);
        }

        // Engine.cs: null when no parameter has that name or ID.
        public ScriptParam GetScriptParam(string name)
        {
            return StubParams.Find(parameter => parameter.Name == name);
        }

        public ScriptParam GetScriptParam(int id)
        {
            return StubParams.Find(parameter => parameter.Id == id);
        }

        public void Log(string message)
        {
            StubLog.Add(message);
        }

        // Answers GetInfoMessage(InfoType.DataMinerInfo) with one GetDataMinerInfoResponseMessage per agent, as
        // the tutorial reads it; any other message is a test failure.
        public virtual DMSMessage[] SendSLNetMessage(DMSMessage message)
        {
            StubSlnetMessages++;
            if (StubAgentsError != null)
            {
                throw new DataMinerException(StubAgentsError);
            }

            var info = message as GetInfoMessage;
            if (info == null || info.StubType != InfoType.DataMinerInfo)
            {
                throw new NotSupportedException("the stub DMS answers only GetInfoMessage(InfoType.DataMinerInfo)");
            }

            var answers = new List<DMSMessage>();
            foreach (int id in StubAgentIds)
            {
                answers.Add(new GetDataMinerInfoResponseMessage { ID = id });
            }

            return answers.ToArray();
        }
    }
}
