package nodeset_test

import (
	"fmt"

	"github.com/cport/cport/herd/nodeset"
)

func Example() {
	p := nodeset.Parser{Groups: nodeset.Inventory{"db": "db[1-3]"}}
	s, err := p.Parse("web[01-04],@db!web03&web[01-03],db[2-3]")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s, s.Len())
	fmt.Println(s.Names())

	_, err = nodeset.Parse("web[1-3")
	fmt.Println(err.(*nodeset.SyntaxError).Caret())
	// Output:
	// db[2-3],web[01-02] 4
	// [db2 db3 web01 web02]
	// web[1-3
	//    ^ unclosed '['
}
