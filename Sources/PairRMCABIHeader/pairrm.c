/* Intentionally empty: PairRMCABIHeader only carries the public header include/pairrm.h.
 * The functions are implemented in Swift (Sources/PairRMCABI, `@c @implementation`). */
