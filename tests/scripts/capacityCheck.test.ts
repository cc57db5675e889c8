import { strict as assert } from "assert";
import { writeFileSync } from "fs";
import * as path from "path";
import { capacityCheckCommand } from "../../components/capacityGate";
import { capacityRow, NodeCapacityFacts } from "@ha-control-plane/topology";
import { Stubs } from "../kubeadm/helpers/stubs";
import { runShipped, ShippedRun, withEditedLine } from "../helpers/shipped";

const GIB = 1024 ** 3;

/**
 * scripts/proxmox/capacity-check.sh as CapacityGate ships it (capacityCheckCommand: the script on
 * stdin to `bash -s --` on the Proxmox node), with a STAND-IN `pvesh` (Proxmox's CLI cannot run
 * here; it prints what `pvesh get /nodes/<node>/qemu --output-format json` prints) and a meminfo
 * file for the node's physical memory. The arithmetic is the script's own, in Perl.
 */
describe("capacity-check.sh as CapacityGate ships it (stand-in pvesh: Proxmox cannot run here)", () => {
    let stubs: Stubs;
    before(() => {
        stubs = new Stubs(["pvesh"]);
    });
    after(() => stubs?.destroy());

    const meminfo = () => path.join(stubs.dir, "meminfo");
    /** The node's live figures: the VMs pvesh lists (or its raw answer), and its physical memory. */
    function node(vms: { vmid: number; maxmem: number }[] | { stdout?: string; exit?: number; stderr?: string }, physicalKiB: number): void {
        const answer = Array.isArray(vms) ? { stdout: JSON.stringify(vms) } : vms;
        stubs.setRules([{ bin: "pvesh", args: "^get /nodes/pve/qemu --output-format json$", ...answer }]);
        writeFileSync(meminfo(), `MemTotal:       ${physicalKiB} kB\nMemFree:        1000 kB\n`);
    }
    const run = (step: ReturnType<typeof capacityCheckCommand>): ShippedRun => runShipped(step, stubs.env({ CAPACITY_CHECK_MEMINFO: meminfo() }), { timeoutMs: 30_000 });
    const facts = (committedGiB: number, physicalGiB = 267): NodeCapacityFacts => ({ node: "pve", physicalGiB, committedGiB, hostReserveGiB: 8 });
    const planned = [{ name: "k8s-master-2", memoryGiB: 16, vmId: 205 }, { name: "k8s-master-3", memoryGiB: 16, vmId: 206 }];
    const lab = (committed: number) => capacityCheckCommand(facts(committed), planned);
    const physical267 = 267 * 1024 * 1024;
    // Today's lab: 262 GiB allocated across the existing VMs.
    const labVms = [{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 230 * GIB }];

    it("refuses the lab today (exit 1): 262 GiB allocated + 32 GiB planned > 259 GiB usable", () => {
        node(labVms, physical267);
        const r = run(lab(262));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /REFUSED: proxmox node pve: 262\.0 GiB allocated \+ 32\.0 GiB planned = 294\.0 GiB > 259\.0 GiB usable \(267 physical - 8 reserve\)/);
    });

    it("lets the plan through when the host has room (exit 0)", () => {
        node([{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 168 * GIB }], physical267);
        const r = run(lab(200));
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /node pve fits: 27\.0 GiB headroom/);
    });

    it("counts planned VMs that already exist once (a re-run after a partial up)", () => {
        node([{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 168 * GIB }, { vmid: 205, maxmem: 16 * GIB }], physical267);
        const r = run(lab(200));
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /committed to other VMs 200\.0 GiB live/);
    });

    it("refuses stale figures (exit 1): more allocated today than the config says", () => {
        node([{ vmid: 200, maxmem: 32 * GIB }, { vmid: 201, maxmem: 190 * GIB }], physical267);
        const r = run(lab(200));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /REFUSED: proxmox node pve has 222\.0 GiB allocated to other VMs, the config says 200 GiB: update committedMemoryGiB and run preview again/);
    });

    it("refuses a config that overstates the node's physical memory (exit 1)", () => {
        node(labVms, 128 * 1024 * 1024);
        const r = run(lab(262));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /REFUSED: proxmox node pve has 128\.0 GiB physical, the config says 267 GiB: update physicalMemoryGiB/);
    });

    it("refuses (exit 1) when pvesh fails, naming the node it was asked about", () => {
        node({ stderr: "ipcc_send_rec[1] failed: Unknown error -1\n", exit: 255 }, physical267);
        const r = run(lab(262));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /REFUSED: could not list the VMs of node pve with pvesh \(is this the Proxmox node 'pve'\?\)/);
    });

    it("refuses (exit 1, not Perl's 255 or 2) figures it cannot read: pvesh output that is not JSON, no meminfo, no MemTotal", () => {
        node({ stdout: "<html>proxy error</html>\n" }, physical267);
        const notJson = run(lab(262));
        assert.equal(notJson.status, 1, notJson.stderr);
        assert.match(notJson.stderr, /REFUSED: cannot read the live figures of node pve: malformed JSON string/);

        node(labVms, physical267);
        const noMeminfo = runShipped(lab(262), stubs.env({ CAPACITY_CHECK_MEMINFO: path.join(stubs.dir, "absent") }));
        assert.equal(noMeminfo.status, 1, noMeminfo.stderr);
        assert.match(noMeminfo.stderr, /REFUSED: cannot read the live figures of node pve: cannot read .*absent: No such file or directory/);

        writeFileSync(meminfo(), "MemFree: 1000 kB\n");
        const noTotal = run(lab(262));
        assert.equal(noTotal.status, 1, noTotal.stderr);
        assert.match(noTotal.stderr, /REFUSED: cannot read the live figures of node pve: no MemTotal in /);
    });

    it("rejects figures and arguments it cannot use with exit 2, before asking Proxmox", () => {
        node(labVms, physical267);
        stubs.clearCalls();
        const cases: [ReturnType<typeof capacityCheckCommand>, RegExp][] = [
            // What the component would build from a non-numeric figure.
            [capacityCheckCommand({ ...facts(262), physicalGiB: Number.NaN }, planned), /--physical-gib must be a number of GiB \(got 'NaN'\)/],
            [capacityCheckCommand({ ...facts(262), hostReserveGiB: -1 }, planned), /--reserve-gib must be a number of GiB \(got '-1'\)/],
            [capacityCheckCommand(facts(262), [{ name: "x", memoryGiB: 2.5e-7, vmId: 205 }]), /--planned must be VMID:GIB\[,VMID:GIB\.\.\.\] \(got '205:2\.5e-7'\)/],
            // Lines the component never builds: a figure left out, one without its value, one misspelt.
            [withEditedLine(lab(262), (l) => l.replace("--node pve ", "")), /--node is required/],
            [withEditedLine(lab(262), (l) => l.replace(/--planned \S+$/, "--planned")), /--planned needs a value/],
            [withEditedLine(lab(262), (l) => l.replace("--committed-gib", "--commited-gib")), /unknown argument '--commited-gib'/],
        ];
        for (const [step, message] of cases) {
            const r = run(step);
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, message);
        }
        assert.deepEqual(stubs.calls("pvesh"), [], "Proxmox is never asked");
    });

    // The script must apply the rule remotely to live figures, so it carries its own copy of the
    // arithmetic; this keeps that copy equal to topology/capacity.ts's capacityRow.
    it("agrees with capacityRow on 40 random nodes and plans (live figures equal to the config)", () => {
        let seed = 20261121;
        const next = (n: number) => {
            seed = (seed * 1103515245 + 12345) % 2 ** 31;
            return seed % n;
        };
        for (let i = 0; i < 40; i++) {
            const physical = 32 + next(300);
            const reserve = next(16);
            const committed = next(physical);
            const sizes = [1 + next(40), 1 + next(40)];
            node([{ vmid: 100, maxmem: committed * GIB }], physical * 1024 * 1024);
            const figures: NodeCapacityFacts = { node: "pve", physicalGiB: physical, committedGiB: committed, hostReserveGiB: reserve };
            const r = run(capacityCheckCommand(figures, [{ name: "a", memoryGiB: sizes[0], vmId: 205 }, { name: "b", memoryGiB: sizes[1], vmId: 206 }]));
            const row = capacityRow(figures, [
                { name: "a", memoryGiB: sizes[0] },
                { name: "b", memoryGiB: sizes[1] },
            ]);
            assert.equal(r.status, row.fits ? 0 : 1, `physical ${physical}, reserve ${reserve}, committed ${committed}, planned ${sizes}: ${r.stderr}`);
        }
    });
});
