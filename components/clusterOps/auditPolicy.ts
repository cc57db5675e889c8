import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { AuditFlags, COMPONENT_TYPES, MasterSpec, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { rerunOnUpdate } from "../commandLifecycle";
import { scriptText } from "../scriptFile";
import { sshConnection } from "../sshConnection";
import { rootScriptCommand } from "./remote";

export interface AuditPolicyFileArgs {
    readonly topology: Topology;
    readonly audit: AuditFlags;
    readonly master: MasterSpec;
    readonly sshPrivateKey: pulumi.Output<string>;
    /**
     * Remove the file when the resource is destroyed. Only on the existing master: a new master's
     * copy goes with its VM, and a delete that must reach the master would make its rollback
     * depend on the very node being removed (pulumi-command fails a delete it cannot dial).
     */
    readonly removeOnDestroy: boolean;
}

/**
 * The audit policy on one master, before its apiserver is regenerated (the existing master,
 * phase 1.5) or before it joins (new masters, phases 2 and 3): the apiserver does not start
 * without it. Copied over SFTP to a staging file, then installed root-owned by a command; on the
 * existing master its delete removes the file again (a copy alone has no delete), on a new master
 * nothing runs on destroy (see removeOnDestroy). A changed policy re-copies and re-installs (its
 * hash is in the triggers).
 */
export class AuditPolicyFile extends pulumi.ComponentResource {
    readonly copy: command.remote.CopyToRemote;
    readonly install: command.remote.Command;

    constructor(name: string, args: AuditPolicyFileArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.auditPolicyFile, name, {}, opts);
        const { topology, audit, master } = args;
        const connection = sshConnection(master.ip, topology.ssh.user, args.sshPrivateKey);
        const digest = createHash("sha256").update(audit.policy).digest("hex");
        const staged = `/tmp/ha-control-plane-audit-policy-${digest.slice(0, 12)}.yaml`;

        this.copy = new command.remote.CopyToRemote(
            `${name}-copy`,
            { connection, source: new pulumi.asset.StringAsset(audit.policy), remotePath: staged, triggers: [digest] },
            childOf(this, opts),
        );
        const install = ["install", "--staged", staged, "--path", audit.policyPath];
        this.install = new command.remote.Command(
            `${name}-install`,
            {
                connection,
                create: rootScriptCommand(topology.ssh.user, install),
                // An idempotent install: an update (a new key) re-runs it; a new policy replaces it.
                ...rerunOnUpdate(rootScriptCommand(topology.ssh.user, install)),
                ...(args.removeOnDestroy ? { delete: rootScriptCommand(topology.ssh.user, ["remove", "--staged", staged, "--path", audit.policyPath]) } : {}),
                stdin: scriptText("cluster/audit-policy-file.sh"),
                triggers: [digest],
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            childOf(this, opts, [this.copy]),
        );
        this.registerOutputs({ path: audit.policyPath, sha256: digest });
    }
}
