/**
 * Phase 1.5, flag parity the kubeadm way: the declared apiserver and etcd flags go into the
 * ClusterConfiguration (through scripts/kubeadm/patch-cluster-config.py and kubeadm's
 * upload-config), and each master's static pods are regenerated from it by kubeadm, so a later
 * `kubeadm upgrade` keeps them. scripts/cluster/control-plane-flags.sh does both, one master at a
 * time, with a health wait and an automatic restore.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    clusterConfigurationFragment,
    clusterConfigurationRemoval,
    COMPONENT_TYPES,
    DeclaredFlags,
    declaredFlags,
    flagExpectations,
    hasDeclaredFlags,
    MasterSpec,
    Topology,
} from "../../topology";
import { bundleScript } from "../kubeadm/bundle";
import { childOf } from "../childOptions";
import { remoteScript } from "./remote";

/** control-plane-flags.sh with what it sources and runs: issue 3's kubeadm lib and patcher. */
export function flagsScriptBundle(): string {
    return bundleScript({ libs: ["kubeadm/lib.sh"], embed: ["kubeadm/patch-cluster-config.py"], main: "cluster/control-plane-flags.sh" });
}

/** `apply` or `revert` arguments for one master: its identity, the document, the declared set. */
export function flagsArgs(action: "apply" | "revert", topology: Topology, master: MasterSpec, declared: DeclaredFlags): string[] {
    const fragment = action === "apply" ? clusterConfigurationFragment(declared) : clusterConfigurationRemoval(declared);
    return [
        action,
        "--node", master.name,
        "--advertise-address", master.ip,
        "--bind-port", String(topology.cluster.apiserverPort),
        "--timeout", String(topology.clusterOps.controlPlaneFlags.healthTimeoutSeconds),
        "--fragment", JSON.stringify(fragment),
        ...flagExpectations(declared),
    ];
}

export interface FlagParityArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
}

/**
 * On the existing master (the only one at phase 1.5; later masters get the flags from the
 * ClusterConfiguration when they join): patch kubeadm-config, regenerate etcd then the apiserver,
 * check parity. The delete takes the flags out of kubeadm-config and regenerates again. The
 * component waits for the audit policy copy (its dependsOn), so the apiserver finds the file.
 */
export class FlagParity extends pulumi.ComponentResource {
    readonly apply?: command.remote.Command;

    constructor(name: string, args: FlagParityArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.flagParity, name, {}, opts);
        const { topology } = args;
        const declared = declaredFlags(topology.clusterOps.controlPlaneFlags);
        if (hasDeclaredFlags(declared)) {
            const master = topology.existingMaster;
            this.apply = remoteScript(
                `${name}-${master.name}`,
                { host: master.ip, user: topology.ssh.user, privateKey: args.sshPrivateKey },
                { script: { text: flagsScriptBundle() }, args: flagsArgs("apply", topology, master, declared), deleteArgs: flagsArgs("revert", topology, master, declared) },
                childOf(this, opts),
            );
        }
        this.registerOutputs({});
    }
}
