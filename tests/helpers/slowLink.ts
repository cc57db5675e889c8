/**
 * A loopback TCP proxy whose answers flow at most RATE bytes per second (requests pass freely):
 * a busy lab link, or a disk too slow for the keyspace, in front of a real daemon. TLS passes
 * through untouched. The kernel picks its port while binding it, so no other process can take
 * it first.
 */
import * as net from "net";

export interface SlowLink {
    readonly port: number;
    /** Closes the listener and every connection still open. */
    close(): Promise<void>;
}

export function slowLink(target: { host: string; port: number }, rateBytesPerSecond: number): Promise<SlowLink> {
    const open = new Set<net.Socket>();
    const server = net.createServer((client) => {
        const upstream = net.connect(target);
        open.add(client).add(upstream);
        const started = Date.now();
        let sent = 0;
        upstream.on("data", (chunk: Buffer) => {
            sent += chunk.length;
            client.write(chunk);
            const due = (sent / rateBytesPerSecond) * 1000 - (Date.now() - started);
            if (due > 0) {
                upstream.pause();
                setTimeout(() => upstream.resume(), due);
            }
        });
        client.pipe(upstream);
        const close = () => {
            client.destroy();
            upstream.destroy();
            open.delete(client);
            open.delete(upstream);
        };
        client.on("error", close);
        upstream.on("error", close);
        client.on("close", close);
        upstream.on("close", close);
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () =>
            resolve({
                port: (server.address() as net.AddressInfo).port,
                close: () =>
                    new Promise((closed) => {
                        for (const socket of open) socket.destroy();
                        server.close(() => closed());
                    }),
            }),
        );
    });
}
