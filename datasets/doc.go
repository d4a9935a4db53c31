// Package datasets holds the data side of the SRPPO reproduction: the JSON-lines record formats every
// pipeline stage reads (corpus, demonstrations, PPO prompts, evaluation items), the tokenizers
// ([TextTokenizer]: the word-level [Tokenizer] and GPT-2's byte-level [BPE]) with their chat
// templates, exact-match scoring, and the synthetic "operations world" that writes all of these
// files deterministically from a seed.
//
// The file formats are the ones of the design's "bring your own data" section: texts are plain,
// space-separated words, and the pipeline applies the chat template itself (see [ChatPrompt],
// [ChatResponse] and [CorpusText]). Nothing outside [World] and [Answer] knows the built-in
// operations or split names. With a GPT-2 model the same files hold free text, which its BPE
// tokenizer reads whatever the language or spacing.
package datasets
