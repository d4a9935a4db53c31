package datasets

import "slices"

// Special tokens. Every tokenizer gives them the ids 0..4 in this order.
const (
	PadToken = "<pad>"
	BOSToken = "<bos>"
	EOSToken = "<eos>"
	QToken   = "<q>"
	AToken   = "<a>"
)

// Ids of the special tokens.
const (
	PadID int32 = 0
	BOSID int32 = 1
	EOSID int32 = 2
	QID   int32 = 3
	AID   int32 = 4
)

// specials lists the special tokens by id.
var specials = [...]string{PadToken, BOSToken, EOSToken, QToken, AToken}

// ChatPrompt applies the chat template to a prompt: "<bos> <q> {prompt} <a>".
func ChatPrompt(prompt string) string { return BOSToken + " " + QToken + " " + prompt + " " + AToken }

// ChatResponse applies the chat template to a response: "{response} <eos>".
func ChatResponse(response string) string { return response + " " + EOSToken }

// CorpusText wraps a pretraining document: "<bos> {text} <eos>". Texts may contain other special
// tokens (the world's chat-noise documents contain <q> and <a>).
func CorpusText(text string) string { return BOSToken + " " + text + " " + EOSToken }

// DocStop ends every fact of the world's document format, so it is the stop token of the
// document-format probe.
const DocStop = ";"

// DocPrompt is the document-format probe for a base model: "<bos> {prompt} =", the start of the
// world's "eq" fact template. For the prompt "REV a b c" the expected continuation is "c b a ;".
func DocPrompt(prompt string) string { return BOSToken + " " + prompt + " =" }

// IsSpecial reports whether word is one of the special tokens (<pad>, <bos>, <eos>, <q>, <a>).
func IsSpecial(word string) bool { return slices.Contains(specials[:], word) }
