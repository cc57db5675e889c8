import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { apiserverCertSans, COMPONENT_TYPES, controlPlaneEndpoint, endpointFacts, Topology, vmidArg } from "../../topology";
import { scriptText } from "../scriptFile";
import { sshConnection } from "../sshConnection";
import { bundleScript, shellQuote } from "./bundle";
import { asRoot, stepOptions } from "./options";

/** A remote step as the engine runs it: `create`/`delete` command lines over SSH, the script on stdin. */
export interface RemoteStepCommand {
    readonly create: string;
    readonly delete?: string;
    readonly stdin: string;
}

/**
 * Phase 0's apply step on the existing master: retrofit.sh bundled with lib.sh and the patch
 * tool, `apply` on create and `restore` on delete. The component runs exactly this; the
 * control-plane tests run the same text against a real apiserver.
 */
export function retrofitApplyStep(topology: Topology): RemoteStepCommand & { readonly delete: string } {
    const { cluster, kubeadm, existingMaster: master } = topology;
    const rootShell = `${asRoot(topology.ssh.user)}bash -s --`;
    const identity = `--node-name ${master.name} --advertise-address ${master.ip} --backup-dir ${kubeadm.backupDir} --readyz-timeout ${kubeadm.readyzTimeoutSeconds}`;
    return {
        create: [
            `${rootShell} apply ${identity}`,
            `--endpoint ${controlPlaneEndpoint(cluster)}`,
            ...apiserverCertSans(cluster).map((san) => `--san ${san}`),
            ...kubeadm.verifyNamespaces.map((ns) => `--verify-namespace ${ns}`),
        ].join(" "),
        delete: `${rootShell} restore ${identity}`,
        stdin: bundleScript({ libs: ["kubeadm/lib.sh"], embed: ["kubeadm/patch-cluster-config.py"], main: "kubeadm/retrofit.sh" }),
    };
}

export interface RetrofitArgs {
    readonly topology: Topology;
    readonly sshPrivateKey: pulumi.Output<string>;
}

/**
 * Phase 0 on the existing master (seed plan 0.1 to 0.6), three steps in order:
 *   preflight         nodes Ready, a recent etcd snapshot, the VIP and new master IPs free;
 *   proxmox-snapshot  `qm snapshot` of the master's VM on its Proxmox node; destroying keeps it
 *                     unless kubeadm.keepProxmoxSnapshot is false;
 *   apply             controlPlaneEndpoint + certSANs in kubeadm-config (through kubeadm), the
 *                     apiserver certificate regenerated and verified, the apiserver restarted,
 *                     /readyz waited for with an automatic restore; destroying restores the
 *                     original certificate, endpoint and SANs.
 * Joins depend on this component (see stack.ts), so no master joins an endpoint that is not there.
 */
export class Retrofit extends pulumi.ComponentResource {
    readonly preflight: command.remote.Command;
    readonly proxmoxSnapshot: command.remote.Command;
    readonly apply: command.remote.Command;

    constructor(name: string, args: RetrofitArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.retrofit, name, {}, opts);
        const { topology } = args;
        const { cluster, kubeadm, existingMaster: master } = topology;
        const node = topology.proxmox.nodes.find((n) => n.name === master.node);
        if (!node) throw new Error(`the existing master's Proxmox node ${master.node} is not in proxmox.nodes`);
        const onMaster = sshConnection(master.ip, topology.ssh.user, args.sshPrivateKey);
        const rootShell = `${asRoot(topology.ssh.user)}bash -s --`;

        this.preflight = new command.remote.Command(
            `${name}-preflight`,
            {
                connection: onMaster,
                create: [
                    rootShell,
                    `--vip ${cluster.vip} --apiserver-port ${cluster.apiserverPort}`,
                    ...topology.newMasters.map((m) => `--new-master-ip ${m.ip}`),
                    `--snapshot-dir ${kubeadm.etcdSnapshotDir} --snapshot-max-age-hours ${kubeadm.etcdSnapshotMaxAgeHours}`,
                    ...(kubeadm.takeEtcdSnapshot ? ["--take-snapshot"] : []),
                ].join(" "),
                stdin: bundleScript({ libs: ["kubeadm/lib.sh", "etcd/lib.sh"], main: "kubeadm/preflight.sh" }),
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            stepOptions(this, opts),
        );

        const snapshotArgs = `${vmidArg(master.vmId)} --name ${kubeadm.proxmoxSnapshotName}`;
        const pveShell = `${asRoot(topology.proxmox.sshUser)}bash -s --`;
        this.proxmoxSnapshot = new command.remote.Command(
            `${name}-proxmox-snapshot`,
            {
                connection: sshConnection(node.address, topology.proxmox.sshUser, args.sshPrivateKey),
                create: `${pveShell} create ${snapshotArgs} --description ${shellQuote(`before the HA retrofit of ${master.name} (stack ${topology.project}/${topology.stack})`)}`,
                delete: `${pveShell} delete ${snapshotArgs}${kubeadm.keepProxmoxSnapshot ? " --keep" : ""}`,
                stdin: scriptText("kubeadm/proxmox-snapshot.sh"),
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            stepOptions(this, opts, [this.preflight]),
        );

        const step = retrofitApplyStep(topology);
        this.apply = new command.remote.Command(
            `${name}-apply`,
            {
                connection: onMaster,
                create: step.create,
                delete: step.delete,
                stdin: step.stdin,
                logging: command.types.enums.remote.Logging.StdoutAndStderr,
            },
            stepOptions(this, opts, [this.proxmoxSnapshot]),
        );

        // The endpoint phase 0 sets and the master it changes, for the policies (vip-conflicts).
        this.registerOutputs({
            result: this.apply.stdout,
            facts: endpointFacts({ vip: cluster.vip, port: cluster.apiserverPort, master: master.name, masterIp: master.ip }),
        });
    }
}
