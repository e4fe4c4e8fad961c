/// A growable buffer of trivial values in manually managed memory: appends without Array's
/// uniqueness and capacity bookkeeping on every element. Owned by one call's scratch; the owner
/// calls `free()` exactly once.
struct ScratchBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    func free() { base.deallocate() }

    @inline(__always) mutating func removeAll() { count = 0 }

    @inline(__always) mutating func append(_ x: Element) {
        if count == capacity { grow(to: count + 1) }
        base[count] = x
        count += 1
    }

    @inline(__always) mutating func append(_ xs: UnsafeBufferPointer<Element>) {
        if count + xs.count > capacity { grow(to: count + xs.count) }
        if let source = xs.baseAddress { (base + count).update(from: source, count: xs.count) }
        count += xs.count
    }

    /// Makes room for `extra` more elements (so `append`s up to that need no check in callers
    /// that use `unsafeAppend`).
    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(__always) mutating func unsafeAppend(_ x: Element) {
        base[count] = x
        count += 1
    }

    @inline(never) mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        fresh.initialize(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    @inline(__always) var last: Element? { count > 0 ? base[count - 1] : nil }
    @inline(__always) var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }
}
