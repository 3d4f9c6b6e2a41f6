package migrations

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// m0011ProgramNames makes program names unique, ignoring case, with an
// index on LOWER(name) (names are stored trimmed), so two admins saving
// the same name at once cannot both succeed. Databases from before it may
// hold such duplicates: rather than fail the upgrade, the oldest program
// keeps its name and each later one gets " (2)", " (3)"... appended (the
// first number free). Nothing else about them changes.
func m0011ProgramNames() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "0011_program_names",
		Migrate: func(tx *gorm.DB) error {
			var rows []struct {
				ID   uint
				Name string
				Key  string
			}
			// The database's own LOWER, the one the index uses, decides what
			// counts as a duplicate.
			if err := tx.Raw("SELECT id, name, LOWER(name) AS key FROM programs ORDER BY id").Scan(&rows).Error; err != nil {
				return err
			}
			// SQLite's LOWER folds ASCII letters only: a new name is checked
			// against both foldings, so it clashes with no existing name.
			taken := map[string]bool{}
			for _, r := range rows {
				taken[r.Key] = true
				taken[strings.ToLower(r.Name)] = true
			}
			kept := map[string]bool{}
			for _, r := range rows {
				if !kept[r.Key] {
					kept[r.Key] = true
					continue
				}
				for n := 2; ; n++ {
					suffix := fmt.Sprintf(" (%d)", n)
					base := clipRunes(r.Name, 200-len(suffix))
					name := base + suffix
					keys := []string{strings.ToLower(name)}
					if base == r.Name {
						keys = append(keys, r.Key+suffix)
					}
					if taken[keys[0]] || len(keys) > 1 && taken[keys[1]] {
						continue
					}
					if err := tx.Exec("UPDATE programs SET name = ? WHERE id = ?", name, r.ID).Error; err != nil {
						return err
					}
					for _, k := range keys {
						taken[k] = true
					}
					break
				}
			}
			return tx.Exec("CREATE UNIQUE INDEX idx_programs_name_lower ON programs (LOWER(name))").Error
		},
	}
}

// clipRunes cuts s to at most n characters.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
