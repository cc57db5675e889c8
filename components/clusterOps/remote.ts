import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "../kubeadm/bundle";
import { asRoot } from "../kubeadm/options";
import { rerunOnUpdate } from "../commandLifecycle";
import { scriptText } from "../scriptFile";
import type { ShippedCommand } from "../shipped";
import { sshConnection } from "../sshConnection";

/** Where and as whom a remote script runs. */
export interface SshTarget {
    readonly host: string;
    readonly user: string;
    readonly privateKey: pulumi.Output<string>;
}

/** `bash -s -- ARGS` as root: the script arrives on stdin, so nothing is left on the host. */
export function rootScriptCommand(user: string, args: readonly string[]): string {
    // Plain words stay unquoted, so the preview reads like the command an operator would type.
    const word = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : shellQuote(a));
    return [`${asRoot(user)}bash -s --`, ...args.map(word)].join(" ");
}

export interface RemoteScriptArgs {
    /** Under scripts/, e.g. "cluster/kubeconfig-server.sh"; or the text of a bundle. */
    readonly script: string | { readonly text: pulumi.Input<string> };
    readonly args: readonly string[];
    /** Arguments for the same script on delete; without them the delete does nothing remote. */
    readonly deleteArgs?: readonly string[];
}

/** The command lines and stdin of a remote script for an SSH user: what remoteScript registers. */
export function shippedScript(user: string, spec: RemoteScriptArgs & { readonly script: string | { readonly text: string } }): ShippedCommand {
    return {
        create: rootScriptCommand(user, spec.args),
        ...(spec.deleteArgs ? { delete: rootScriptCommand(user, spec.deleteArgs) } : {}),
        stdin: typeof spec.script === "string" ? scriptText(spec.script) : spec.script.text,
    };
}

/**
 * A script run as root on a host over SSH on create and, given deleteArgs, on delete (the engine
 * keeps the create-time stdin, so the delete runs the same script). Any changed input (arguments,
 * the SSH key) re-runs it as an update: every script it ships is a check, a gate or an idempotent
 * reconcile (cut-over flips, flag parity).
 */
export function remoteScript(name: string, target: SshTarget, spec: RemoteScriptArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(
        name,
        {
            connection: sshConnection(target.host, target.user, target.privateKey),
            ...rerunOnUpdate(rootScriptCommand(target.user, spec.args)),
            create: rootScriptCommand(target.user, spec.args),
            ...(spec.deleteArgs ? { delete: rootScriptCommand(target.user, spec.deleteArgs) } : {}),
            stdin: typeof spec.script === "string" ? scriptText(spec.script) : spec.script.text,
            logging: command.types.enums.remote.Logging.StdoutAndStderr,
        },
        opts,
    );
}
