import PairRMFormat

extension ActivationPlan {
    /// The plan a file records, or all int16 when it records none.
    init(file: ModelFile) throws {
        guard let value = file.metadata[ActivationPlan.metadataKey] else {
            self = .all(.int16)
            return
        }
        let field = "metadata.\(ActivationPlan.metadataKey)"
        guard case .array(let items) = value else {
            throw RuntimeError(.wrongTensor, file: file.path, field: field, problem: "is not an array of strings",
                               fix: "re-convert the model with `pairrm convert`")
        }
        let rules = try items.map { item in
            guard case .string(let rule) = item else {
                throw RuntimeError(.wrongTensor, file: file.path, field: field, problem: "holds \(item), not a string rule",
                                   fix: "re-convert the model with `pairrm convert`")
            }
            return rule
        }
        do {
            self = try ActivationPlan(rules: rules)
        } catch {
            throw RuntimeError(.wrongTensor, file: file.path, field: field, problem: error.description,
                               fix: "re-convert the model with this version of `pairrm convert`")
        }
    }
}
