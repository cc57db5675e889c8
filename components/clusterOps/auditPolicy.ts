import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { COMPONENT_TYPES } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import { RemoteStep, StepHost, StepSpec } from "../remoteStep";
import { sshConnection } from "../sshConnection";

export interface AuditPolicyFileArgs {
    /** The master the policy goes on: its name and the address SSH dials. */
    readonly master: StepHost;
    /** The SSH user on the masters (sudo for root unless it is root). */
    readonly sshUser: string;
    /** A Pulumi secret, never shown. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** The policy's text (controlPlaneFlags.audit.policy). */
    readonly policy: string;
    /** Where the apiserver reads it on every master (controlPlaneFlags.audit.policyPath). */
    readonly policyPath: string;
    /**
     * Remove the file when the resource is destroyed. Only on the existing master: a new master's
     * copy goes with its VM, and a delete that must reach the master would make its rollback
     * depend on the very node being removed (pulumi-command fails a delete it cannot dial).
     */
    readonly removeOnDestroy: boolean;
}

/** The install of a staged policy file (see scripts/cluster/audit-policy-file.sh); its delete removes it, when asked to. */
export function auditPolicyInstallStep(a: { staged: string; policyPath: string; removeOnDestroy: boolean }): StepSpec {
    const files = ["--staged", a.staged, "--path", a.policyPath];
    return {
        script: "cluster/audit-policy-file.sh",
        runAs: "root",
        args: ["install", ...files],
        ...(a.removeOnDestroy ? { deleteArgs: ["remove", ...files] } : {}),
    };
}

/**
 * The audit policy on one master, before its apiserver is regenerated (the existing master,
 * phase 1.5) or before it joins (new masters, phases 2 and 3): the apiserver does not start
 * without it. Copied over SFTP to a staging file, then installed root-owned by a RemoteStep; on
 * the existing master its delete removes the file again (a copy alone has no delete), on a new
 * master nothing runs on destroy (see removeOnDestroy). A changed policy re-copies and
 * re-installs (its hash is in the triggers).
 */
export class AuditPolicyFile extends pulumi.ComponentResource {
    readonly copy: command.remote.CopyToRemote;
    readonly install: command.remote.Command;

    constructor(name: string, args: AuditPolicyFileArgs, opts?: pulumi.ComponentResourceOptions) {
        const { master, policyPath } = args;
        const digest = createHash("sha256").update(args.policy).digest("hex");
        super(
            COMPONENT_TYPES.auditPolicyFile,
            name,
            { master: master.name, address: master.address, policyPath, sha256: digest, removeOnDestroy: args.removeOnDestroy },
            opts,
        );
        const connection = sshConnection(master.address, args.sshUser, args.sshPrivateKey);
        const staged = `/tmp/ha-control-plane-audit-policy-${digest.slice(0, 12)}.yaml`;

        this.copy = new command.remote.CopyToRemote(
            `${name}-copy`,
            { connection, source: new pulumi.asset.StringAsset(args.policy), remotePath: staged, triggers: [digest] },
            childOf(this, opts),
        );
        this.install = new RemoteStep(
            `${name}-install`,
            {
                host: master,
                user: args.sshUser,
                privateKey: args.sshPrivateKey,
                formerParent: this,
                ...auditPolicyInstallStep({ staged, policyPath, removeOnDestroy: args.removeOnDestroy }),
                // An idempotent install: an update (a new key) re-runs it (the default); a new policy replaces it.
                triggers: [digest],
            },
            childOf(this, opts, [this.copy]),
        ).command;
        this.registerOutputs({ path: policyPath, sha256: digest });
    }
}
