const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

/** A fresh Discord snowflake (timestamp-based, unique within the process), as a string. */
export function nextSnowflake(): string {
  increment = (increment + 1n) % 4096n;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (BigInt(process.pid % 1024) << 12n) | increment).toString();
}
