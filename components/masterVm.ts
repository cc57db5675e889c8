import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterConfig,
    COMPONENT_TYPES,
    CONTROL_PLANE_TAG,
    gibToMib,
    memberTag,
    NewMasterPlacement,
    ProxmoxConfig,
    proxmoxTagOrder,
    stableMac,
} from "@ha-control-plane/topology";
import { renderMasterUserData } from "./shipping/userData";
import { childOf, providerFromOptions } from "./childOptions";
import { scriptText } from "./scriptFile";

export interface MasterVmArgs {
    /** The master (name, address, VMID, node, size, MAC), its phase and its place in etcd. */
    readonly placement: NewMasterPlacement;
    /** Where on Proxmox: the template to clone, the bridge and VLAN, the datastores. */
    readonly proxmox: Pick<ProxmoxConfig, "templateVmId" | "bridge" | "vlanId" | "datastore" | "snippetsDatastore">;
    /** The cluster network the VM's static address lives in. */
    readonly network: Pick<ClusterConfig, "domain" | "prefixLength" | "gateway" | "dnsServers">;
    /** The login cloud-init creates: the SSH user and its public key (never the private one). */
    readonly login: { readonly user: string; readonly publicKey: string };
    /** The kubeadm, kubelet and kubectl version cloud-init installs. */
    readonly kubernetesVersion: string;
    /** The Pulumi project and stack: the VM's description and the seed of its stable MAC. */
    readonly project: string;
    readonly stack: string;
}

/**
 * A new master's VM: a full clone of the cloud-init template with the master's size, a NIC on
 * the cluster VLAN with a stable MAC, a static address, and user-data that prepares kubeadm but
 * does not join (the join is its own step). The existing master is never one of these.
 * Options: `provider` (or `providers`) must carry the stack's Proxmox provider.
 */
export class MasterVm extends pulumi.ComponentResource {
    readonly userData: proxmoxve.FileLegacy;
    readonly vm: proxmoxve.VmLegacy;
    readonly ip: string;
    readonly hostname: string;

    constructor(name: string, args: MasterVmArgs, opts?: pulumi.ComponentResourceOptions) {
        const { placement, proxmox, network: cluster } = args;
        const { master } = placement;
        super(
            COMPONENT_TYPES.masterVm,
            name,
            {
                master: master.name,
                address: `${master.ip}/${cluster.prefixLength}`,
                vmId: master.vmId,
                proxmoxNode: master.node,
                size: { cores: master.cores, memoryGiB: master.memoryGiB, diskGiB: master.diskGiB },
                member: `${placement.member} of ${placement.of}`,
                phase: placement.phase,
                templateVmId: proxmox.templateVmId,
                kubernetesVersion: args.kubernetesVersion,
            },
            opts,
        );
        const childOpts = childOf(this, opts, [], { provider: providerFromOptions(COMPONENT_TYPES.masterVm, opts, proxmoxve.Provider) });
        this.ip = master.ip;
        this.hostname = master.name;

        this.userData = new proxmoxve.FileLegacy(
            `${name}-user-data`,
            {
                nodeName: master.node,
                datastoreId: proxmox.snippetsDatastore,
                contentType: "snippets",
                sourceRaw: {
                    fileName: `${master.name}-user-data.yaml`,
                    data: renderMasterUserData({
                        hostname: master.name,
                        domain: cluster.domain,
                        user: args.login.user,
                        publicKey: args.login.publicKey,
                        kubernetesVersion: args.kubernetesVersion,
                        prepareScript: scriptText("cloud-init/k8s-node-prepare.sh"),
                    }),
                },
            },
            // The replacement has the same id (<datastore>:snippets/<name>.yaml): created first, the
            // old one's delete would remove the new upload. Deleted first, the VM's reference stays
            // valid once the new file is there.
            { ...childOpts, deleteBeforeReplace: true },
        );

        this.vm = new proxmoxve.VmLegacy(
            `${name}-vm`,
            {
                name: master.name,
                nodeName: master.node,
                vmId: master.vmId,
                description: `Kubernetes control-plane member ${placement.member} of ${placement.of} (stack ${args.project}/${args.stack}, phase ${placement.phase})`,
                tags: proxmoxTagOrder([CONTROL_PLANE_TAG, memberTag(placement.member, placement.of)]),
                clone: { vmId: proxmox.templateVmId, full: true, datastoreId: proxmox.datastore, retries: 3 },
                agent: { enabled: true, trim: true },
                cpu: { cores: master.cores, sockets: 1, type: "host" },
                memory: { dedicated: gibToMib(master.memoryGiB) },
                disks: [{ interface: "scsi0", datastoreId: proxmox.datastore, size: master.diskGiB, discard: "on", iothread: true, ssd: true }],
                scsiHardware: "virtio-scsi-single",
                networkDevices: [
                    {
                        bridge: proxmox.bridge,
                        vlanId: proxmox.vlanId,
                        model: "virtio",
                        macAddress: master.macAddress ?? stableMac(args.project, args.stack, master.vmId),
                    },
                ],
                operatingSystem: { type: "l26" },
                initialization: {
                    datastoreId: proxmox.datastore,
                    ipConfigs: [{ ipv4: { address: `${master.ip}/${cluster.prefixLength}`, gateway: cluster.gateway } }],
                    dns: { domain: cluster.domain, servers: [...cluster.dnsServers] },
                    userDataFileId: this.userData.id,
                },
                onBoot: true,
                started: true,
                // A control-plane VM must stop cleanly: etcd flushes on SIGTERM.
                stopOnDestroy: false,
                timeoutShutdownVm: 300,
            },
            // The template is shared: a rebuilt template must not replace running masters. User-data
            // only matters at the first boot (cloud-init runs once per instance), and the provider
            // replaces the VM when userDataFileId changes: a running master ignores it. The
            // engine reads these from the state when a snippet is replaced delete-first, so that
            // replacement does not cascade to the VM either (calculateDependentReplacements).
            { ...childOpts, ignoreChanges: ["clone", "initialization.userDataFileId"] },
        );

        this.registerOutputs({ vmId: this.vm.vmId, ip: this.ip });
    }
}
