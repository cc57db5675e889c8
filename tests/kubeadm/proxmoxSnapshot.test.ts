/**
 * scripts/kubeadm/proxmox-snapshot.sh (phase 0, on the Proxmox node: the snapshot of the existing
 * master's VM before the retrofit), as Retrofit ships it, with a STUB qm
 * (tests/kubeadm/helpers/nodeHost.ts).
 */
import { strict as assert } from "assert";
import { existsSync, rmSync } from "fs";
import * as path from "path";
import { proxmoxSnapshotCommand } from "../../components/kubeadm/retrofit";
import type { ShippedCommand } from "../../components/shipped";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { nodeHost } from "./helpers/nodeHost";
import type { StubRule } from "./helpers/stubs";

describe("proxmox-snapshot.sh (phase 0, on the Proxmox node), as Retrofit ships it (stand-in qm)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    const rules: StubRule[] = [
        { bin: "qm", args: "^status 200$", stdout: "status: running\n" },
        { bin: "qm", args: "^listsnapshot 200$", run: `test -e "$STUB_DIR/snap" && echo '\`-> pre-ha-retrofit   2026-11-21 03:00:00     before the HA retrofit'; echo '    \`-> current                                You are here!'` },
        { bin: "qm", args: "^snapshot 200 pre-ha-retrofit ", run: `touch "$STUB_DIR/snap"` },
        { bin: "qm", args: "^delsnapshot 200 pre-ha-retrofit$", run: `rm -f "$STUB_DIR/snap"` },
    ];
    const step = (over: Partial<Parameters<typeof proxmoxSnapshotCommand>[0]> = {}) =>
        proxmoxSnapshotCommand({ pveSshUser: "root", vmId: 200, name: "pre-ha-retrofit", description: "before the HA retrofit", keep: true, ...over });
    const create = (shipped: ShippedCommand = step()) => runShipped(shipped, env());
    const remove = (shipped: ShippedCommand = step()) => runShipped(shipped, env(), { action: "delete" });
    beforeEach(() => rmSync(path.join(host.stubs.dir, "snap"), { force: true }));

    it("takes the snapshot once, keeps it on delete by default, deletes it when asked", () => {
        host.stubs.setRules(rules);
        const taken = create();
        assert.equal(taken.status, 0, taken.stderr);
        assert.ok(commands("qm").includes("snapshot 200 pre-ha-retrofit --description before the HA retrofit"));
        assert.equal(taken.stdout.trim(), "snapshot pre-ha-retrofit of VM 200");
        host.stubs.clearCalls();
        const again = create();
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stderr, /VM 200 already has snapshot pre-ha-retrofit; keeping it/);
        assert.ok(!commands("qm").some((c) => c.startsWith("snapshot ")), "a re-run keeps the first snapshot");
        const keep = remove();
        assert.equal(keep.status, 0);
        assert.match(keep.stderr, /keeping snapshot pre-ha-retrofit of VM 200 \(roll back with: qm rollback 200 pre-ha-retrofit/);
        assert.ok(existsSync(path.join(host.stubs.dir, "snap")));
        const deleted = remove(step({ keep: false }));
        assert.equal(deleted.status, 0, deleted.stderr);
        assert.match(deleted.stderr, /deleted snapshot pre-ha-retrofit of VM 200/);
        assert.ok(!existsSync(path.join(host.stubs.dir, "snap")));
        const gone = remove(step({ keep: false }));
        assert.equal(gone.status, 0, gone.stderr);
        assert.match(gone.stderr, /VM 200 has no snapshot pre-ha-retrofit: nothing to delete/);
    });

    it("fails (exit 1) on a VM that is not on the node, a qm that cannot list or take or delete snapshots, and a snapshot qm does not list after taking it", () => {
        const cases: [StubRule[], "create" | "delete", RegExp][] = [
            [[{ bin: "qm", args: "^status 200$", stderr: "Configuration file 'nodes/pve/qemu-server/200.conf' does not exist\n", exit: 2 }], "create", /VM 200 does not exist on this node/],
            [[rules[0], { bin: "qm", args: "^listsnapshot 200$", stderr: "got timeout\n", exit: 255 }], "create", /qm listsnapshot 200 failed/],
            [[rules[0], rules[1], { bin: "qm", args: "^snapshot 200 ", stderr: "snapshot feature is not available\n", exit: 255 }], "create", /qm snapshot 200 pre-ha-retrofit failed \(does the VM's storage support snapshots\?\)/],
            [[rules[0], rules[1], { bin: "qm", args: "^snapshot 200 " }], "create", /snapshot pre-ha-retrofit of VM 200 is not listed after qm snapshot/],
            [[rules[0], { bin: "qm", args: "^listsnapshot 200$", stdout: "`-> pre-ha-retrofit  2026-11-21 03:00:00  x\n" }, { bin: "qm", args: "^delsnapshot ", stderr: "VM is locked (snapshot)\n", exit: 255 }], "delete", /qm delsnapshot 200 pre-ha-retrofit failed/],
        ];
        for (const [answers, action, message] of cases) {
            host.stubs.setRules(answers);
            const r = action === "create" ? create() : remove(step({ keep: false }));
            assert.equal(r.status, 1, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^proxmox-snapshot: ERROR: ${message.source}$`, "m"));
        }
    });

    it("refuses what it is given wrong with exit 2 before asking qm", () => {
        host.stubs.setRules(rules);
        host.stubs.clearCalls();
        const cases: [ShippedCommand, "create" | "delete", RegExp][] = [
            [step({ vmId: -200 }), "create", /--vmid must be a VMID/],
            [step({ name: "pre.ha-retrofit" }), "delete", /--name must be a Proxmox snapshot name/],
            [step({ name: "9-lives" }), "create", /--name must be a Proxmox snapshot name/],
            [withEditedLine(step(), (l) => l.replace(/ create .*$/, "")), "create", /create or delete\?/],
            [withEditedLine(step(), (l) => l.replace(" create ", " take ")), "create", /unknown command 'take' \(create or delete\)/],
            [withEditedLine(step(), (l) => l.replace("--keep", "--keep-it"), "delete"), "delete", /unknown argument '--keep-it'/],
            [withEditedLine(step(), (l) => l.replace("--name pre-ha-retrofit --keep", "--keep --name"), "delete"), "delete", /--name needs a value/],
        ];
        for (const [shipped, action, message] of cases) {
            const r = action === "create" ? create(shipped) : remove(shipped);
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^proxmox-snapshot: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
        }
        assert.deepEqual(host.stubs.calls(), [], "qm is never asked");
    });
});
