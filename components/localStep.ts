/**
 * The one way a step runs a script where `pulumi up` runs (nsupdate, curl): `bash SCRIPT ARGS`,
 * the script one of the manifest's "local" entries, by its path in the project (the engine starts
 * the command provider in the project's folder; an absolute path would put the checkout's place
 * into the state, so a moved checkout would see every step updated and a destroy would run a
 * path that is gone), its arguments quoted by shellWord. A secret (TSIG
 * key, API token) reaches the script on stdin only, never on the command line, which the plan
 * and the state show. The component shows the script and its arguments; its one child is the
 * command, which keeps the name and, through an alias to its old parent, its URN from before.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES } from "@ha-control-plane/topology";
import { childOf } from "./childOptions";
import { rerunOnUpdate } from "./commandLifecycle";
import { shellWord } from "./remoteStep";
import { ScriptId, scriptEntry } from "./scriptManifest";

export interface LocalStepSpec {
    readonly script: ScriptId;
    readonly args: readonly string[];
    /** Arguments for the same script on delete; without them the delete does nothing. */
    readonly deleteArgs?: readonly string[];
    /**
     * Pass the command's previous output to the script as this flag (the engine sets
     * PULUMI_COMMAND_STDOUT to it, empty on create), so an update carries over what the
     * create found.
     */
    readonly previousOutputFlag?: string;
}

export interface LocalStepArgs extends LocalStepSpec {
    /** The secret the script reads on stdin: the command logs nothing and keeps its outputs secret. */
    readonly secretStdin: pulumi.Output<string>;
    /** A change of these replaces the command (delete, then create) instead of updating it. */
    readonly triggers?: pulumi.Input<unknown[]>;
    /** The parent the command had before it moved under this step: its alias. */
    readonly formerParent: pulumi.Resource;
    /** Custom options for the command (deleteBeforeReplace). */
    readonly commandOptions?: pulumi.CustomResourceOptions;
}

/** The command line of a local step: `bash scripts/SCRIPT ARGS`, plus the previous output when asked. */
export function localCommandLine(spec: Pick<LocalStepSpec, "script" | "previousOutputFlag">, args: readonly string[]): string {
    if (scriptEntry(spec.script).host !== "local") throw new Error(`${spec.script} is not a local script in the manifest`);
    const previous = spec.previousOutputFlag ? ` ${shellWord(spec.previousOutputFlag)} "\${PULUMI_COMMAND_STDOUT:-}"` : "";
    return ["bash", `scripts/${spec.script}`, ...args].map(shellWord).join(" ") + previous;
}

export class LocalStep extends pulumi.ComponentResource {
    readonly command: command.local.Command;

    constructor(name: string, args: LocalStepArgs, opts?: pulumi.ComponentResourceOptions) {
        super(
            COMPONENT_TYPES.localStep,
            name,
            { script: args.script, args: [...args.args], ...(args.deleteArgs ? { deleteArgs: [...args.deleteArgs] } : {}) },
            opts,
        );
        const create = localCommandLine(args, args.args);
        this.command = new command.local.Command(
            name,
            {
                create,
                ...rerunOnUpdate(create),
                ...(args.deleteArgs ? { delete: localCommandLine(args, args.deleteArgs) } : {}),
                stdin: args.secretStdin,
                ...(args.triggers ? { triggers: args.triggers } : {}),
                // The secret is on stdin: log nothing, keep the outputs secret (secrets-stay-secret).
                // A failure still fails the up; run the script by hand to see its own words.
                logging: command.types.enums.local.Logging.None,
            },
            childOf(this, opts, [], { ...args.commandOptions, additionalSecretOutputs: ["stdout", "stderr"], aliases: [{ parent: args.formerParent }] }),
        );
        this.registerOutputs({});
    }
}
