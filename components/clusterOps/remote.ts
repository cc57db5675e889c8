import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { RemoteStep, shipStep, stepCommandLine } from "../remoteStep";
import type { ScriptId } from "../scriptManifest";
import type { ShippedCommand } from "../shipped";

/** Where and as whom a remote script runs. */
export interface SshTarget {
    /** The host's name, shown in a preview. */
    readonly name: string;
    /** What SSH dials. */
    readonly host: string;
    readonly user: string;
    readonly privateKey: pulumi.Output<string>;
}

/** `bash -s -- ARGS` as root: the script arrives on stdin, so nothing is left on the host. */
export function rootScriptCommand(user: string, args: readonly string[]): string {
    return stepCommandLine(user, "root", args);
}

export interface RemoteScriptArgs {
    /** A script of the manifest (components/scriptManifest.ts), e.g. "cluster/kubeconfig-server.sh". */
    readonly script: ScriptId;
    readonly args: readonly string[];
    /** Arguments for the same script on delete; without them the delete does nothing remote. */
    readonly deleteArgs?: readonly string[];
}

/** The command lines and stdin of a remote script for an SSH user: what remoteScript registers. */
export function shippedScript(user: string, spec: RemoteScriptArgs): ShippedCommand {
    return shipStep(user, { ...spec, runAs: "root" });
}

/**
 * A script run as root on a host over SSH on create and, given deleteArgs, on delete (the engine
 * keeps the create-time stdin, so the delete runs the same script). Any changed input (arguments,
 * the SSH key) re-runs it as an update: every script it ships is a check, a gate or an idempotent
 * reconcile (cut-over flips, flag parity). A RemoteStep under `opts.parent`; its command keeps
 * its URN through an alias (and the older names given as `{ name }` aliases).
 */
export function remoteScript(name: string, target: SshTarget, spec: RemoteScriptArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { parent, dependsOn, aliases } = opts;
    if (!parent) throw new Error(`${name}: a remote script is a component's child`);
    const formerNames = (aliases ?? []).map((a) => {
        if (typeof a === "object" && a !== null && "name" in a && typeof a.name === "string" && Object.keys(a).length === 1) return a.name;
        throw new Error(`${name}: only { name } aliases are carried to a remote step's command`);
    });
    return new RemoteStep(
        name,
        {
            host: { name: target.name, address: target.host },
            user: target.user,
            privateKey: target.privateKey,
            ...spec,
            runAs: "root",
            formerParent: parent,
            ...(formerNames.length ? { formerNames } : {}),
        },
        { parent, ...(dependsOn ? { dependsOn } : {}) },
    ).command;
}
