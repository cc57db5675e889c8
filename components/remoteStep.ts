/**
 * The one way a step runs a script on a host: over SSH, the script (with the libraries the
 * manifest names) on stdin to `bash -s --`, its arguments quoted one way, as root or as the SSH
 * user. The component shows what an operator needs in a preview (host, script, arguments, as
 * whom); its one child is the command, which keeps the name and, through an alias to its old
 * parent, the URN it had before it was put under a RemoteStep.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES } from "@ha-control-plane/topology";
import { childOf } from "./childOptions";
import { rerunOnUpdate } from "./commandLifecycle";
import { shellQuote } from "./kubeadm/bundle";
import { asRoot } from "./kubeadm/options";
import { ScriptId, scriptEntry, shippedText } from "./scriptManifest";
import type { ShippedCommand } from "./shipped";
import { sshConnection } from "./sshConnection";

export interface StepHost {
    /** The host's name as the operator knows it (node name, "pve1", the LB's name). */
    readonly name: string;
    /** What SSH dials. */
    readonly address: string;
}

/** What is shipped and how, without the connection: all of it is shown in a preview. */
export interface StepSpec {
    readonly script: ScriptId;
    readonly args: readonly string[];
    /** Arguments for the same script on delete; without them the delete does nothing remote. */
    readonly deleteArgs?: readonly string[];
    readonly runAs: "root" | "user";
    /**
     * Non-secret text in front of the script on stdin: the input the script reads from its own
     * frame (components/shipping/payloads.ts: a PHP state document, a bash payload). Secrets go
     * in secretStdin.
     */
    readonly stdinPrefix?: string;
}

export interface RemoteStepArgs extends StepSpec {
    readonly host: StepHost;
    readonly user: string;
    readonly privateKey: pulumi.Output<string>;
    /** Secret text put in front of the script on stdin, after its #! line (exported variables the script reads). */
    readonly secretStdin?: pulumi.Output<string>;
    /** How often SSH dials before giving up, when the host may still be booting (default SSH_DIAL's). */
    readonly dialErrorLimit?: number;
    /** A change of these replaces the command (delete, then create) instead of updating it. */
    readonly triggers?: pulumi.Input<unknown[]>;
    /** What an update runs (commandLifecycle.ts); the default re-runs the create line. */
    readonly update?: { readonly update: string };
    /** The parent the command had before it moved under this step: its alias. */
    readonly formerParent: pulumi.Resource;
    /** Names the command had before under that parent (each one an alias too). */
    readonly formerNames?: readonly string[];
    readonly logging?: command.types.enums.remote.Logging;
    /** Custom options for the command (additionalSecretOutputs, deleteBeforeReplace). */
    readonly commandOptions?: pulumi.CustomResourceOptions;
}

/** The one quoting rule: plain words stay unquoted (the preview reads like a typed command), the rest single-quoted. */
export function shellWord(a: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : shellQuote(a);
}

/** The command line for a step: `bash -s -- ARGS` (or `php -- ARGS`), through `sudo -n` for root unless the user is root. */
export function stepCommandLine(user: string, runAs: "root" | "user", args: readonly string[], runner: "bash" | "php" = "bash"): string {
    return [`${runAs === "root" ? asRoot(user) : ""}${runner === "php" ? "php --" : "bash -s --"}`, ...args.map(shellWord)].join(" ");
}

/** What a step ships for an SSH user: the command lines and the stdin (without secretStdin). */
export function shipStep(user: string, spec: StepSpec): ShippedCommand {
    const runner = scriptEntry(spec.script).runner ?? "bash";
    return {
        create: stepCommandLine(user, spec.runAs, spec.args, runner),
        ...(spec.deleteArgs ? { delete: stepCommandLine(user, spec.runAs, spec.deleteArgs, runner) } : {}),
        stdin: `${spec.stdinPrefix ?? ""}${shippedText(spec.script)}`,
    };
}

/** `prefix` in front of a script's text, after its #! line when it has one (the text still reads as the script). */
function inFrontOfScript(prefix: string, script: string): string {
    if (!script.startsWith("#!")) return `${prefix}${script}`;
    const eol = script.indexOf("\n") + 1;
    return `${script.slice(0, eol)}${prefix}${script.slice(eol)}`;
}

/** What a step ships once its secretStdin is known: the text after the script's #! line (RemoteStep's stdin; the script tests run exactly this). */
export function withSecretStdin(shipped: ShippedCommand, secret: string): ShippedCommand {
    return { ...shipped, stdin: inFrontOfScript(secret, shipped.stdin) };
}

export class RemoteStep extends pulumi.ComponentResource {
    readonly command: command.remote.Command;

    constructor(name: string, args: RemoteStepArgs, opts?: pulumi.ComponentResourceOptions) {
        const shown = {
            host: args.host.name,
            address: args.host.address,
            script: args.script,
            args: [...args.args],
            ...(args.deleteArgs ? { deleteArgs: [...args.deleteArgs] } : {}),
            runAs: args.runAs,
        };
        super(COMPONENT_TYPES.remoteStep, name, shown, opts);
        const shipped = shipStep(args.user, args);
        this.command = new command.remote.Command(
            name,
            {
                connection: sshConnection(args.host.address, args.user, args.privateKey, args.dialErrorLimit ? { dialErrorLimit: args.dialErrorLimit } : {}),
                create: shipped.create,
                ...(args.update ?? rerunOnUpdate(shipped.create)),
                ...(shipped.delete ? { delete: shipped.delete } : {}),
                stdin: args.secretStdin ? pulumi.secret(args.secretStdin.apply((secret) => withSecretStdin(shipped, secret).stdin)) : shipped.stdin,
                ...(args.triggers ? { triggers: args.triggers } : {}),
                logging: args.logging ?? command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts, [], { ...args.commandOptions, aliases: [{ parent: args.formerParent }, ...(args.formerNames ?? []).map((n) => ({ name: n, parent: args.formerParent }))] }),
        );
        this.registerOutputs({});
    }
}
