// Placeholder until the tokenizer lands.
enum TokenizerPlaceholder {}
